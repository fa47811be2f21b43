"""The diffusion language model behind diffill. Knows nothing about editors, files or LSP.

from diffill.model import load
infiller = load()
print(infiller.infill("def add(a, b):\\n    return ", "\\n").text)
"""

from .backends.mdlm import DEFAULT_MODEL, Infiller, InfillError, InfillRequest, InfillResult, load
from .backends.open_checkpoints.checkpoint import ModelTooLarge
from .backends.open_checkpoints.infiller import HFInfiller
from .checkpoint import CheckpointError
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
