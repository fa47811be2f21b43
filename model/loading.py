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
) -> Backend:
    """Load a model folder (the shipped default when None or "default").

    device: "cpu", "cuda[:N]" or "auto" (CUDA when available).
    dtype: "auto" (decided here for this machine, `precision.choose`: bf16 on CUDA and on
        CPUs with AMX or AVX512-BF16, else float32), "float32", "bfloat16", or "int8"
        (dynamically quantised linear layers; CPU, diffill's own models). `facts.precision`
        says what was chosen and why.
    max_context_tokens: context tokens the model is shown (None: the backend's default).
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
    model_type = checkpoint.read_config(path).get("model_type")
    if model_type == checkpoint.BLOCK_MODEL_TYPE:
        ckpt = checkpoint.load(path, device, checkpoint.BLOCK_MODEL_TYPE, dtype)
        layout = ckpt.layout
        try:
            block_size = int(layout["block_size"])
            fim_order = str(layout["fim_order"])
            trained = int(layout.get("context_tokens", 1024))
        except (KeyError, TypeError, ValueError) as err:
            raise checkpoint.CheckpointError(
                f"{path / 'config.json'}: the block model's layout lacks {err}"
            ) from None
        return BlockInfiller(
            ckpt.model,
            ckpt.tokenizer,
            name,
            block_size=block_size,
            fim_order=fim_order,
            max_context_tokens=max_context_tokens,
            trained_context_tokens=trained,
            folder=path,
            training=ckpt.info,
            precision=ckpt.precision,
        )
    peer = model_type == checkpoint.AR_MODEL_TYPE
    model_type = checkpoint.AR_MODEL_TYPE if peer else checkpoint.MODEL_TYPE
    ckpt = checkpoint.load(path, device, model_type, dtype)
    backend = ARInfiller if peer else Infiller
    return backend(
        ckpt.model,
        ckpt.tokenizer,
        name,
        max_context_tokens=max_context_tokens,
        folder=path,
        training=ckpt.info,
        precision=ckpt.precision,
    )
