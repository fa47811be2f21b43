"""The diffusion language model behind diffill. Knows nothing about editors, files or LSP.

    from diffill.model import load
    backend = load()                       # the shipped model; load(folder, device="auto")
    print(backend.infill("def add(a, b):\\n    return ", "\\n").text)

Everything a caller needs is exported here; every model is a `Backend`, whichever
backend `load` picked for its folder. The package:

    backend.py        the contract: `Backend`, `ModelFacts`, `InfillRequest`, `InfillResult`
    loading.py        `load()`: picks the backend from the folder's config.json
    requests.py       what backends share: requests checked, contexts cut to the budget,
                      canvases, candidate lengths and the choice among candidates
    sampler.py        iterative parallel unmasking (options, presets, commit rules, and the
                      cached sampler of diffill's own network)
    tokenizer.py      byte-level BPE, lossless for any Unicode text
    checkpoint.py     diffill's model folder: config.json, safetensors shards, tokenizer
    hardware.py       device, bf16 and dtype choice
    hub.py            the open checkpoints `diffill pull` knows by name, found in the
                      Hugging Face cache
    fim.py            the block model's fill-in-the-middle layout (sentinels, stable
                      trimming), shared by its training and its backend
    evaluation.py     infilling tasks and their scores (exact match, parse rate, pass@1)
    backends/         one per model family (diffill's block diffusion and masked diffusion,
                      its autoregressive peer, the open checkpoints), and diffill's transformer
    training/         corpus, span sampling, objectives, the training loop
    weights/default/  the shipped model

Dependencies point one way: training/ and evaluation use backends/, backends/ use the
modules above, and nothing here imports diffill.server.
"""

from .backend import Backend, InfillError, InfillRequest, InfillResult, ModelFacts
from .backends.open_checkpoints import ModelTooLarge
from .checkpoint import CheckpointError
from .loading import DEFAULT_MODEL, load
from .sampler import PRESETS, Cancelled, SamplerOptions, Step
from .tokenizer import TokenizerError

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "Backend",
    "Cancelled",
    "CheckpointError",
    "InfillError",
    "InfillRequest",
    "InfillResult",
    "ModelFacts",
    "ModelTooLarge",
    "SamplerOptions",
    "Step",
    "TokenizerError",
    "load",
]
