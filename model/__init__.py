"""The diffusion language model behind diffill. Knows nothing about editors, files or LSP.

from diffill.model import load
infiller = load()
print(infiller.infill("def add(a, b):\\n    return ", "\\n").text)
"""

from .checkpoint import CheckpointError
from .hf_checkpoint import ModelTooLarge
from .hf_infiller import HFInfiller
from .infiller import DEFAULT_MODEL, Infiller, InfillError, InfillRequest, InfillResult, load
from .sampler import Cancelled, SamplerOptions, Step
from .tokenizer import TokenizerError

__all__ = [
    "DEFAULT_MODEL",
    "Cancelled",
    "CheckpointError",
    "HFInfiller",
    "InfillError",
    "InfillRequest",
    "InfillResult",
    "Infiller",
    "ModelTooLarge",
    "SamplerOptions",
    "Step",
    "TokenizerError",
    "load",
]
