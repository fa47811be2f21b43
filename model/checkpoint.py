"""A model is a folder: `config.json`, `model.safetensors` (or shards with an index) and
`tokenizer.json`. Loading names the first thing wrong with a folder instead of failing
somewhere inside torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import precision as precisions
from .backends.transformer import DiffusionLM, ModelConfig
from .hardware import resolve_device
from .precision import Precision
from .tokenizer import CodeTokenizer, TokenizerError

FORMAT_VERSION = 1
MODEL_TYPE = "diffill-mdlm"
# The autoregressive peer (see `autoregressive`): same network, causal mask.
AR_MODEL_TYPE = "diffill-fim-ar"
# The block-diffusion model (v2, see `blockdiff`): causal FIM context, middle in blocks.
BLOCK_MODEL_TYPE = "diffill-block"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
# Every shipped file stays under the repository's 16 MiB limit.
DEFAULT_SHARD_BYTES = 15 * 1024 * 1024


class CheckpointError(RuntimeError):
    """A model folder that cannot be loaded; the message says what to fix."""


@dataclass
class Checkpoint:
    """A loaded diffill model folder (or a network built in memory: folder None); each of
    diffill's own backends is built from one."""

    model: DiffusionLM
    tokenizer: CodeTokenizer
    folder: Path | None = None
    # Free-form facts recorded at save time (training tokens, held-out loss, ...).
    info: dict = field(default_factory=dict)
    # The block model's layout: fim_order, block_size, context_tokens.
    layout: dict = field(default_factory=dict)
    # What it runs in and why (None: the saved dtype, as read).
    precision: Precision | None = None


def save(
    folder: str | Path,
    model: DiffusionLM,
    tokenizer: CodeTokenizer,
    info: dict | None = None,
    dtype: torch.dtype = torch.bfloat16,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    layout: dict | None = None,
) -> Path:
    """Write `model` as a checkpoint folder, sharding weights above `shard_bytes`.

    layout: given for the block-diffusion model (its model type is then BLOCK_MODEL_TYPE).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if layout is not None:
        model_type = BLOCK_MODEL_TYPE
    else:
        model_type = AR_MODEL_TYPE if model.cfg.causal else MODEL_TYPE
    config = {
        "format_version": FORMAT_VERSION,
        "model_type": model_type,
        "model": model.cfg.to_dict(),
        "dtype": str(dtype).removeprefix("torch."),
        "info": info or {},
    }
    if layout is not None:
        config["layout"] = layout
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    for old in [*folder.glob("model*.safetensors"), folder / WEIGHTS_INDEX]:
        old.unlink(missing_ok=True)
    if len(shards) == 1:
        save_file(shards[0], str(folder / WEIGHTS), metadata={"format": "pt"})
    else:
        weight_map = {}
        for i, shard in enumerate(shards, 1):
            name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            save_file(shard, str(folder / name), metadata={"format": "pt"})
            weight_map.update({k: name for k in shard})
        (folder / WEIGHTS_INDEX).write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1) + "\n"
        )
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tokenizer.save(folder / "tokenizer.json")
    return folder


def read_json(path: Path) -> dict:
    """The JSON object in the file `path` (any model folder's config files)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object")
    return data


def read_config(folder: Path) -> dict:
    if not folder.is_dir():
        raise CheckpointError(f"model folder {folder} does not exist or is not a directory")
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"model folder {folder} has no config.json")
    return read_json(folder / "config.json")


def read_state(folder: Path) -> dict[str, torch.Tensor]:
    """The weights of a diffill model folder by name, unchecked (for warm starts)."""
    read_config(folder)
    return _read_weights(folder)


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    index = folder / WEIGHTS_INDEX
    try:
        if index.is_file():
            weight_map = json.loads(index.read_text())["weight_map"]
            state: dict[str, torch.Tensor] = {}
            for shard in sorted(set(weight_map.values())):
                if not (folder / shard).is_file():
                    raise CheckpointError(f"model folder {folder} lacks weight shard {shard}")
                state.update(load_file(str(folder / shard)))
            return state
        if not (folder / WEIGHTS).is_file():
            raise CheckpointError(f"model folder {folder} has no {WEIGHTS} (nor {WEIGHTS_INDEX})")
        return load_file(str(folder / WEIGHTS))
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as err:
        raise CheckpointError(f"cannot read the weights in {folder}: {err}") from None


def load(
    folder: str | Path,
    device: str | torch.device = "cpu",
    model_type: str = MODEL_TYPE,
    dtype: str | None = None,
) -> Checkpoint:
    """Load a diffill checkpoint folder of `model_type` onto `device` ("cpu", "cuda[:N]",
    "auto"), in `dtype` (one of `precision.DTYPES`; None keeps the saved one)."""
    device = resolve_device(device)
    chosen = precisions.choose(dtype, device) if dtype is not None else None
    folder = Path(folder)
    config = read_config(folder)
    version = config.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{folder / 'config.json'} has no integer format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{folder} uses checkpoint format {version}, newer than this diffill reads "
            f"({FORMAT_VERSION}); upgrade diffill"
        )
    if config.get("model_type") != model_type:
        raise CheckpointError(
            f"{folder} holds model_type {config.get('model_type')!r}, not {model_type!r}"
        )
    try:
        cfg = ModelConfig.from_dict(config.get("model", {}))
    except (TypeError, ValueError, AssertionError) as err:
        raise CheckpointError(f"{folder / 'config.json'}: bad model config: {err}") from None
    if cfg.causal != (model_type == AR_MODEL_TYPE):
        raise CheckpointError(f"{folder}: a {model_type} model cannot have causal={cfg.causal}")
    if not (folder / "tokenizer.json").is_file():
        raise CheckpointError(f"model folder {folder} has no tokenizer.json")
    try:
        tokenizer = CodeTokenizer.from_file(folder / "tokenizer.json")
    except (TokenizerError, Exception) as err:  # tokenizers raises bare Exceptions
        raise CheckpointError(f"cannot read {folder / 'tokenizer.json'}: {err}") from None
    if tokenizer.vocab_size != cfg.vocab_size:
        raise CheckpointError(
            f"{folder}: tokenizer has {tokenizer.vocab_size} tokens but the model "
            f"expects {cfg.vocab_size}"
        )
    state = _read_weights(folder)
    with torch.device("meta"):
        model = DiffusionLM(cfg)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{folder}: weights do not match the config "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"{folder}: weight {name} has shape {tuple(tensor.shape)}, "
                f"the config implies {tuple(expected[name].shape)}"
            )
    model.load_state_dict(state, assign=True)
    model.to(device).eval()
    if chosen is not None:
        precisions.apply(model, chosen)
        if precisions.packs_weights(chosen, device):
            model.pack_weights()
            chosen = replace(chosen, reason=f"{chosen.reason}; {precisions.PACKED}")
    layout = config.get("layout", {})
    if model_type == BLOCK_MODEL_TYPE and not isinstance(layout, dict):
        raise CheckpointError(f"{folder / 'config.json'}: layout must be an object")
    return Checkpoint(model, tokenizer, folder, config.get("info", {}), layout, chosen)
