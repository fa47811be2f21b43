"""Hugging Face-format folders of open diffusion checkpoints: which family a folder holds,
the network its `config.json` describes, its special token ids and its weights.

A folder is recognised from its own `config.json` (`model_type`, `architectures`):

| family | model_type / architectures | logits | examples |
|---|---|---|---|
| Dream | `Dream` / `DreamModel` | shifted | Dream-v0, DiffuCoder, Dream-Coder, DreamOn |
| Qwen2 MDM | `qwen2` / `Qwen2ForCausalLM` with a mask token | shifted | Open-dCoder |
| LLaDA | `llada` / `LLaDAModelLM` | in place | LLaDA-8B, LLaDA-1.5 |

"Shifted": models adapted from autoregressive ones keep the habit of predicting the next
token, so the logit at position i is the prediction for token i+1 (Dream, Ye et al. 2025,
"shift operation"); diffill moves it back one place. LLaDA (Nie et al. 2025) was trained
from scratch to predict each masked token at its own position.

Every id (mask, pad, end, begin) comes from the folder: `config.json` (and
`generation_config.json`) first, the tokenizer files second; they must agree. Nothing
is read from the folder's Python files and nothing there is run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from ...checkpoint import WEIGHTS, WEIGHTS_INDEX, CheckpointError, read_json
from .network import BidirectionalDecoder, DecoderConfig
from .tokenizer import HFTokenizer, load_tokenizer_files, special_token_id

# Contexts longer than this are cut even where config.json allows more: Dream's README
# gives 2,048 positions as its trained context although its config inherits Qwen2.5's.
MAX_WINDOW = 2048
# Working memory on top of the weights: activations, the canvas logits over a 150k
# vocabulary for a few candidate rows, and the CUDA context.
WORKING_FRACTION = 0.10
WORKING_BYTES = 1 << 30


class ModelTooLarge(CheckpointError):
    """The weights do not fit the device's free memory; raised before anything is loaded."""


@dataclass(frozen=True)
class Family:
    name: str
    weights: str  # parameter naming scheme: "qwen2" or "llada"
    shifted: bool  # logit i predicts token i+1
    # Infill prompt: [bos] prefix canvas suffix [eos]; each sentinel only where the
    # family's own infilling code puts it (and only at a real start / end of the file).
    bos_before_prefix: bool
    eos_after_suffix: bool
    slug: str  # `ModelFacts.family`


# Dream family: DreamOn's `process_infilling_prompt` (Dream-org/DreamOn-v0-7B model card):
# [bos] prefix [mask]*n suffix [eos].
DREAM = Family(
    "Dream", "qwen2", shifted=True, bos_before_prefix=True, eos_after_suffix=True, slug="dream"
)
# Open-dCoder's eval_infill.py: prefix [mask]*n suffix, nothing around them.
QWEN2_MDM = Family(
    "Qwen2 MDM",
    "qwen2",
    shifted=True,
    bos_before_prefix=False,
    eos_after_suffix=False,
    slug="open-dcoder",
)
# LLaDA's pretraining documents start with <|startoftext|> and end with <|endoftext|>.
LLADA = Family(
    "LLaDA", "llada", shifted=False, bos_before_prefix=True, eos_after_suffix=True, slug="llada"
)

SUPPORTED = (
    "model_type 'Dream' (DreamModel: Dream, DiffuCoder, Dream-Coder), "
    "'llada' (LLaDAModelLM: LLaDA) and 'qwen2' with a mask token (Open-dCoder)"
)


def is_hf_folder(folder: Path) -> bool:
    """True when `folder/config.json` is a Hugging Face config rather than diffill's own."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return (
        isinstance(config, dict)
        and "format_version" not in config
        and ("architectures" in config or "model_type" in config)
    )


def recognise(config: dict, folder: Path) -> Family:
    model_type = str(config.get("model_type", "")).lower()
    archs = config.get("architectures") or []
    if model_type == "dream" or "DreamModel" in archs:
        if archs and "DreamModel" not in archs:
            raise CheckpointError(
                f"{folder}: a Dream checkpoint with architectures {archs} is not the "
                "bidirectional DreamModel diffill supports"
            )
        return DREAM
    if model_type == "llada" or "LLaDAModelLM" in archs:
        return LLADA
    if model_type == "qwen2" or "Qwen2ForCausalLM" in archs:
        return QWEN2_MDM  # a diffusion model only with a mask token; checked with the ids
    raise CheckpointError(
        f"{folder}: model_type {config.get('model_type')!r} (architectures {archs}) is not "
        f"an open diffusion checkpoint diffill can run; supported: {SUPPORTED}"
    )


def _get(config: dict, key: str, folder: Path, kind: type = int):
    value = config.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CheckpointError(f"{folder / 'config.json'}: {key} must be a {kind.__name__}")
    return value


def _refuse(folder: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{folder}: {what} is not supported by diffill's open-checkpoint loader")


def decoder_config(config: dict, family: Family, folder: Path) -> DecoderConfig:
    """The network `config.json` describes; anything diffill would compute wrongly is refused."""
    if family.weights == "qwen2":
        if config.get("hidden_act", "silu") != "silu":
            raise _refuse(folder, f"hidden_act {config.get('hidden_act')!r}")
        scaling = config.get("rope_scaling")
        if scaling and (scaling.get("rope_type") or scaling.get("type")) != "default":
            raise _refuse(folder, f"rope_scaling {scaling}")
        if config.get("use_sliding_window"):
            raise _refuse(folder, "sliding-window attention")
        dim = _get(config, "hidden_size", folder)
        heads = _get(config, "num_attention_heads", folder)
        return DecoderConfig(
            vocab_size=_get(config, "vocab_size", folder),
            dim=dim,
            n_layers=_get(config, "num_hidden_layers", folder),
            n_heads=heads,
            n_kv_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or dim // heads,
            mlp_dim=_get(config, "intermediate_size", folder),
            rope_theta=float(config.get("rope_theta", 10_000.0)),
            norm_eps=float(config.get("rms_norm_eps", 1e-6)),
            # Qwen2 always has them; Dream conversions of other models say attention_bias.
            qkv_bias=bool(config.get("attention_bias", True)),
            bias=False,
            tie_embeddings=bool(config.get("tie_word_embeddings", False)),
            max_positions=int(config.get("max_position_embeddings", MAX_WINDOW)),
        )
    # LLaDA: OLMo-style config keys (configuration_llada.py).
    checks = {
        "block_type": ("llama", config.get("block_type", "llama")),
        "layer_norm_type": ("rms", config.get("layer_norm_type", "rms")),
        "activation_type": ("silu", config.get("activation_type", "silu")),
        "rope": (True, config.get("rope", True)),
        "alibi": (False, config.get("alibi", False)),
        "attention_layer_norm": (False, config.get("attention_layer_norm", False)),
        "input_emb_norm": (False, config.get("input_emb_norm", False)),
        "scale_logits": (False, config.get("scale_logits", False)),
        "block_group_size": (1, config.get("block_group_size", 1)),
        "layer_norm_with_affine": (True, config.get("layer_norm_with_affine", True)),
    }
    for key, (want, got) in checks.items():
        if got != want:
            raise _refuse(folder, f"{key}={got!r}")
    if config.get("bias_for_layer_norm"):
        raise _refuse(folder, "bias_for_layer_norm")
    factor = config.get("rope_scaling_factor")
    if factor not in (None, 1, 1.0):
        raise _refuse(folder, f"rope_scaling_factor={factor!r}")
    dim = _get(config, "d_model", folder)
    heads = _get(config, "n_heads", folder)
    mlp = config.get("mlp_hidden_size") or config.get("mlp_ratio", 4) * dim
    return DecoderConfig(
        vocab_size=config.get("embedding_size") or _get(config, "vocab_size", folder),
        dim=dim,
        n_layers=_get(config, "n_layers", folder),
        n_heads=heads,
        n_kv_heads=config.get("n_kv_heads") or heads,
        head_dim=dim // heads,
        mlp_dim=int(mlp),
        rope_theta=float(config.get("rope_theta", 10_000.0)),
        norm_eps=float(config.get("rms_norm_eps", 1e-5)),
        qkv_bias=bool(config.get("include_qkv_bias", False)),
        bias=bool(config.get("include_bias", False)),
        tie_embeddings=bool(config.get("weight_tying", False)),
        max_positions=int(config.get("max_sequence_length", MAX_WINDOW)),
    )


# diffill's parameter names -> each family's ("{i}" is the layer).
_LAYER_NAMES = {
    "qwen2": {
        "attn_norm": "input_layernorm",
        "q": "self_attn.q_proj",
        "k": "self_attn.k_proj",
        "v": "self_attn.v_proj",
        "o": "self_attn.o_proj",
        "mlp_norm": "post_attention_layernorm",
        "gate": "mlp.gate_proj",
        "up": "mlp.up_proj",
        "down": "mlp.down_proj",
    },
    "llada": {
        "attn_norm": "attn_norm",
        "q": "q_proj",
        "k": "k_proj",
        "v": "v_proj",
        "o": "attn_out",
        "mlp_norm": "ff_norm",
        "gate": "ff_proj",
        "up": "up_proj",
        "down": "ff_out",
    },
}
_TOP_NAMES = {
    "qwen2": {"embed": "model.embed_tokens", "norm": "model.norm", "head": "lm_head"},
    "llada": {
        "embed": "model.transformer.wte",
        "norm": "model.transformer.ln_f",
        "head": "model.transformer.ff_out",
    },
}
_LAYER_PREFIX = {"qwen2": "model.layers.{i}.", "llada": "model.transformer.blocks.{i}."}


def checkpoint_name(family: Family, name: str) -> str:
    """The checkpoint's name for diffill's parameter `name` (e.g. "layers.3.q.weight")."""
    parts = name.split(".")
    if parts[0] == "layers":
        i, module, leaf = parts[1], parts[2], parts[3]
        prefix = _LAYER_PREFIX[family.weights].format(i=i)
        return f"{prefix}{_LAYER_NAMES[family.weights][module]}.{leaf}"
    return f"{_TOP_NAMES[family.weights][parts[0]]}.{parts[1]}"


def weight_files(folder: Path) -> tuple[list[Path], dict[str, str] | None]:
    """The safetensors files of `folder` and, when sharded, the index's name -> file map."""
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"{index} has no weight_map")
        files = sorted({folder / f for f in weight_map.values()})
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise CheckpointError(
                f"model folder {folder} lacks weight shard(s) {', '.join(missing)} "
                f"named in {WEIGHTS_INDEX}"
            )
        return files, weight_map
    if (folder / WEIGHTS).is_file():
        return [folder / WEIGHTS], None
    pt = sorted(folder.glob("*.bin")) + sorted(folder.glob("*.pt"))
    hint = (
        " (only PyTorch pickles, which diffill does not load: convert to safetensors)" if pt else ""
    )
    raise CheckpointError(f"model folder {folder} has no {WEIGHTS} nor {WEIGHTS_INDEX}{hint}")


def _tensor_index(files: list[Path]) -> dict[str, tuple[Path, tuple[int, ...]]]:
    """Name -> (file, shape) from the safetensors headers, reading no tensor data."""
    out: dict[str, tuple[Path, tuple[int, ...]]] = {}
    for path in files:
        size = path.stat().st_size
        try:
            with safe_open(str(path), framework="pt") as f:
                for name in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    out[name] = (path, tuple(f.get_slice(name).get_shape()))
        except (SafetensorError, OSError) as err:
            raise CheckpointError(
                f"cannot read weight file {path} ({size:,} bytes): {err}"
            ) from None
    return out


def available_memory(device: torch.device) -> int | None:
    """Free bytes on `device` now, or None where that cannot be told."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(folder: Path, weight_bytes: int, dtype: torch.dtype, device: torch.device) -> None:
    need = int(weight_bytes * (1 + WORKING_FRACTION)) + WORKING_BYTES
    free = available_memory(device)
    if free is not None and need > free:
        gib = 1024**3
        raise ModelTooLarge(
            f"{folder} needs about {need / gib:.1f} GiB on {device} ({weight_bytes / gib:.1f} "
            f"GiB of weights in {str(dtype).removeprefix('torch.')} plus working memory), "
            f"but only {free / gib:.1f} GiB is free; use a device with more memory "
            "(device='cuda' for a GPU) or a smaller checkpoint"
        )


@dataclass
class SpecialIds:
    mask: int
    pad: int
    eos: int | None
    bos: int | None
    slack: frozenset[int]  # tokens that fill the unused end of a canvas
    sources: dict[str, str] = field(default_factory=dict)  # where each id was read


def _ints(value) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    return []


def special_ids(folder: Path, config: dict, family: Family, tok, tok_config: dict) -> SpecialIds:
    """The ids the model needs, each from the checkpoint's own files."""
    gen_path = folder / "generation_config.json"
    gen = read_json(gen_path) if gen_path.is_file() else {}
    vocab = tok.get_vocab_size(with_added_tokens=True)
    sources: dict[str, str] = {}

    def from_configs(key: str) -> tuple[list[int], str]:
        for source, data in (("config.json", config), ("generation_config.json", gen)):
            if _ints(data.get(key)):
                return _ints(data.get(key)), source
        return [], ""

    # The mask: the model's config first; where the tokenizer names one too, they must agree.
    masks, source = from_configs("mask_token_id")
    tok_mask = special_token_id(tok, tok_config, "mask_token")
    if masks and tok_mask is not None and masks[0] != tok_mask:
        raise CheckpointError(
            f"{folder}: {source} says mask_token_id {masks[0]} but the tokenizer's mask token "
            f"is id {tok_mask}; the files disagree"
        )
    mask = masks[0] if masks else tok_mask
    if mask is None:
        what = (
            "it looks like an autoregressive Qwen2 model, not a diffusion one"
            if family is QWEN2_MDM
            else "the checkpoint does not say which token is the mask"
        )
        raise CheckpointError(
            f"{folder}: no mask token: neither config.json nor generation_config.json has "
            f"mask_token_id and the tokenizer files name no mask_token ({what})"
        )
    sources["mask"] = source or "tokenizer"

    # bos, eos, pad: the tokenizer's first, as the families' own infilling code uses them
    # (DreamOn's tokenizer.bos_token_id is <|beginoftext|> where config.json's bos_token_id
    # is <|endoftext|>; DiffuCoder pads with the tokenizer's <|dlm_pad|>), config otherwise.
    found: dict[str, int | None] = {}
    for name in ("bos", "eos", "pad"):
        from_tok = special_token_id(tok, tok_config, f"{name}_token")
        ids, source = from_configs(f"{name}_token_id")
        found[name] = from_tok if from_tok is not None else (ids[0] if ids else None)
        sources[name] = "tokenizer" if from_tok is not None else source
    if found["pad"] is None:
        found["pad"], sources["pad"] = found["eos"], "eos"
    pad = found["pad"]
    if pad is None:
        raise CheckpointError(
            f"{folder}: no pad or end-of-text token in config.json or the tokenizer files"
        )
    for name, i in (("mask", mask), *found.items()):
        if i is not None and not 0 <= i < vocab:
            raise CheckpointError(f"{folder}: {name} id {i} is outside the tokenizer ({vocab})")
    # What the model writes in unused canvas slots: every pad and end-of-text id named.
    slack = {pad, *([found["eos"]] if found["eos"] is not None else [])}
    for key in ("pad_token_id", "eos_token_id"):
        slack |= {i for data in (config, gen) for i in _ints(data.get(key)) if 0 <= i < vocab}
    return SpecialIds(mask, pad, found["eos"], found["bos"], frozenset(slack - {mask}), sources)


@dataclass
class OpenCheckpoint:
    model: BidirectionalDecoder
    tokenizer: HFTokenizer
    family: Family
    config: dict  # the folder's config.json
    info: dict


def load(folder: str | Path, device: torch.device, dtype: torch.dtype) -> OpenCheckpoint:
    """Read, check and load a Hugging Face-format folder onto `device` in `dtype`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"model folder {folder} does not exist or is not a directory")
    config = read_json(folder / "config.json")
    family = recognise(config, folder)
    cfg = decoder_config(config, family, folder)
    tok, tok_config = load_tokenizer_files(folder)
    ids = special_ids(folder, config, family, tok, tok_config)
    if tok.get_vocab_size(with_added_tokens=True) > cfg.vocab_size:
        raise CheckpointError(
            f"{folder}: the tokenizer has {tok.get_vocab_size(with_added_tokens=True)} tokens "
            f"but the model only {cfg.vocab_size} embeddings"
        )
    tokenizer = HFTokenizer(
        tok, mask_id=ids.mask, pad_id=ids.pad, eos_id=ids.eos, bos_id=ids.bos, slack_ids=ids.slack
    )

    with torch.device("meta"):
        model = BidirectionalDecoder(cfg)
    expected = {n: tuple(p.shape) for n, p in model.state_dict().items()}
    files, _ = weight_files(folder)
    stored = _tensor_index(files)
    wanted = {checkpoint_name(family, n): n for n in expected}
    missing = sorted(k for k in wanted if k not in stored)
    if missing:
        raise CheckpointError(
            f"{folder}: the weights lack {len(missing)} tensor(s) the config implies, "
            f"e.g. {missing[:3]} (truncated download or a different architecture)"
        )
    for name, ours in wanted.items():
        if stored[name][1] != expected[ours]:
            raise CheckpointError(
                f"{folder}: weight {name} has shape {stored[name][1]}, the config implies "
                f"{expected[ours]}"
            )
    item = torch.empty((), dtype=dtype).element_size()
    weight_bytes = sum(item * torch.Size(s).numel() for s in expected.values())
    check_fits(folder, weight_bytes, dtype, device)

    state: dict[str, torch.Tensor] = {}
    by_file: dict[Path, list[str]] = {}
    for name in wanted:
        by_file.setdefault(stored[name][0], []).append(name)
    for path, names in by_file.items():
        try:
            with safe_open(str(path), framework="pt") as f:
                for name in names:
                    state[wanted[name]] = f.get_tensor(name).to(device=device, dtype=dtype)
        except (SafetensorError, OSError, RuntimeError) as err:
            raise CheckpointError(f"cannot read the weights in {path}: {err}") from None
    model.load_state_dict(state, assign=True, strict=True)
    model.eval()
    info = {
        "family": family.name,
        "model_type": config.get("model_type"),
        "architectures": config.get("architectures"),
        "logits": "shifted by one (position i predicts token i+1)"
        if family.shifted
        else "in place",
        "special_ids": {
            "mask": ids.mask,
            "pad": ids.pad,
            "eos": ids.eos,
            "bos": ids.bos,
            "slack": sorted(ids.slack),
            "read_from": ids.sources,
        },
        "weights_bytes": weight_bytes,
    }
    return OpenCheckpoint(model, tokenizer, family, config, info)
