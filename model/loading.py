"""`load()`: a model folder in, a `Backend` out. The folder's `config.json` says which
backend reads it, so no caller chooses one:

| config.json | backend |
|---|---|
| diffill's (`format_version`), model_type `diffill-mdlm` | `backends.mdlm.Infiller` |
| diffill's, model_type `diffill-fim-ar` | `backends.autoregressive.ARInfiller` |
| diffill's, model_type `diffill-block` | `backends.blockdiff.BlockInfiller` |
| a Hugging Face config (`model_type` / `architectures`) | `backends.open_checkpoints.HFInfiller` |

A name `diffill pull` knows ("Open-dCoder-0.5B", `hub.MODELS`) names its folder in the
Hugging Face cache, where it is found offline; a folder of that name still comes first.
"""

from __future__ import annotations

from pathlib import Path

from . import checkpoint, hub
from .backend import Backend
from .backends import open_checkpoints
from .backends.autoregressive import ARInfiller
from .backends.blockdiff import BlockInfiller
from .backends.mdlm import Infiller
from .checkpoint import CheckpointError

DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"


def model_folder(folder: str | Path | None) -> tuple[Path, str]:
    """The folder `load(folder)` reads and the model's name: the shipped model's for None or
    "default", a pulled model's in the Hugging Face cache for its name, else `folder`.

    Raises CheckpointError when a name is not downloaded, or when a bare name that is no
    folder is no model `diffill pull` knows either (the known ones listed).
    """
    if folder is None or folder == "default":
        return DEFAULT_MODEL, "default"
    path = Path(folder)
    if isinstance(folder, str) and not path.exists():
        published = hub.find(folder)
        if published is not None:
            return hub.cached_folder(published), published.name
        if len(path.parts) == 1 and not path.is_absolute():
            raise CheckpointError(
                f"model folder {folder} does not exist, and {folder!r} is not a model "
                f"`diffill pull` knows ({hub.known_names()})"
            )
    return path, "default" if path == DEFAULT_MODEL else str(path)


def load(
    folder: str | Path | None = None,
    *,
    device: str = "cpu",
    dtype: str = "auto",
    max_context_tokens: int | None = None,
    context_cache_entries: int | None = None,
) -> Backend:
    """Load a model folder (the shipped default when None or "default"), or a model
    `diffill pull` downloaded, by its name (`hub.MODELS`).

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
    Raises `CheckpointError` naming what is wrong with the folder (or that a named model
    is not downloaded), `ValueError` for a bad device or dtype.
    """
    path, name = model_folder(folder)
    if open_checkpoints.is_hf_folder(path):  # Dream family, LLaDA: see open_checkpoints
        try:
            return open_checkpoints.load(
                path, device=device, dtype=dtype, max_context_tokens=max_context_tokens, name=name
            )
        except open_checkpoints.ModelTooLarge:
            raise
        except CheckpointError as err:
            if name in ("default", str(path)):  # not a pulled model
                raise
            # An older huggingface_hub hands back a partly downloaded snapshot as it is.
            raise CheckpointError(
                f"{err} (if a download of it stopped, `diffill pull {name}` finishes it)"
            ) from None
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
