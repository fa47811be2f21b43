"""`load()`: a model folder in, a `Backend` out. The folder's `config.json` says which
backend reads it, so no caller chooses one:

| config.json | backend |
|---|---|
| diffill's (`format_version`), model_type `diffill-mdlm` | `backends.mdlm.Infiller` |
| diffill's, model_type `diffill-fim-ar` | `backends.autoregressive.ARInfiller` |
| diffill's, model_type `diffill-block` | `backends.blockdiff.BlockInfiller` |
| a Hugging Face config (`model_type` / `architectures`) | `backends.open_checkpoints.HFInfiller` |
"""

from __future__ import annotations

from pathlib import Path

from . import checkpoint
from .backend import Backend
from .backends import open_checkpoints
from .backends.autoregressive import ARInfiller
from .backends.blockdiff import BlockInfiller
from .backends.mdlm import Infiller

DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"


def load(
    folder: str | Path | None = None,
    *,
    device: str = "cpu",
    dtype: str = "auto",
    max_context_tokens: int | None = None,
    context_cache_entries: int | None = None,
) -> Backend:
    """Load a model folder (the shipped default when None or "default").

    device: "cpu", "cuda[:N]" or "auto" (CUDA when available).
    dtype: "auto" (decided here for this machine, `precision.choose`: bf16 on CUDA and on
        CPUs with AMX or AVX512-BF16, else float32), "float32", "bfloat16", or "int8"
        (dynamically quantised linear layers; CPU, diffill's own models). `facts.precision`
        says what was chosen and why.
    max_context_tokens: context tokens the model is shown (None: the backend's default).
    context_cache_entries: how many recent contexts a model that keeps them holds encoded,
        each in one buffer (None: its default, 4): the block model (every chunk before a
        change is reused) and the masked-diffusion model (the very same context is); the
        autoregressive peer and open checkpoints keep none.
    Raises `CheckpointError` naming what is wrong with the folder, `ValueError` for a bad
    device or dtype.
    """
    path = DEFAULT_MODEL if folder in (None, "default") else Path(folder)
    name = "default" if path == DEFAULT_MODEL else str(path)
    if open_checkpoints.is_hf_folder(path):  # Dream family, LLaDA: see open_checkpoints
        return open_checkpoints.load(
            path, device=device, dtype=dtype, max_context_tokens=max_context_tokens, name=name
        )
    # diffill's own folder: the block model's, the peer's, or the masked-diffusion
    # model's (whose loading names a folder of any other model_type).
    model_type = str(checkpoint.read_config(path).get("model_type"))
    backends = {
        checkpoint.BLOCK_MODEL_TYPE: BlockInfiller,
        checkpoint.AR_MODEL_TYPE: ARInfiller,
    }
    # Any other model_type is the masked-diffusion model's loading to name as wrong.
    backend = backends.get(model_type, Infiller)
    read_as = model_type if backend is not Infiller else checkpoint.MODEL_TYPE
    ckpt = checkpoint.load(path, device, read_as, dtype)
    if backend in (BlockInfiller, Infiller) and context_cache_entries is not None:
        return backend(
            ckpt, name, max_context_tokens=max_context_tokens, cache_entries=context_cache_entries
        )
    return backend(ckpt, name, max_context_tokens=max_context_tokens)
