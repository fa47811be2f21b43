"""Which arithmetic a model runs in on the machine at hand, and putting a network in it.

    precision = choose("auto", device)   # Precision(requested, dtype, reason)
    model = apply(model, precision)      # cast, or quantise the linear layers

The choices (`DTYPES`), measured on each kind of machine (figures in docs/speed.md
and `bench/results/fill_speed*.json`):

- float32: exact arithmetic of the network as trained. The fastest on a CPU without bf16
  matrix units (AVX2 only, such as the AMD EPYC where this project trains): there, bf16 is
  emulated at about an eighth of the fp32 rate. Asked for, it is float32 throughout, also
  on a machine whose "auto" is bf16: the weights (whatever dtype a folder stores them in,
  or its config.json's `torch_dtype` says), the activations, and no caller's autocast
  (open checkpoints' `network.in_weight_dtype`), so its logits are `transformers`' float32
  ones (tests/test_hf_checkpoints.py: within 1e-4, measured 0).
- bfloat16: weights and activations in bf16. On CUDA and on CPUs with AMX or AVX512-BF16
  (oneDNN's own test, `hardware.fast_bf16`) matrix products run 3-20x faster than fp32.
  The shipped weights are stored in bf16, so only activations lose precision. On such a
  CPU diffill's networks keep their weights reordered for oneDNN (`packs_weights`).
- int8: dynamic quantisation of every `nn.Linear` (int8 weights per output channel,
  activations quantised per call; Jacob et al. 2018, torch.ao's `quantize_dynamic` on the
  `x86` engine, which picks fbgemm or oneDNN). CPU only. The embedding (and so the tied
  vocabulary projection), the norms and attention stay float32.

"auto" is decided here and now from what the device says it can do, never from a timing
taken at load time: a timing on a shared machine is noisy, and a choice that flipped
between runs would break "same inputs and seed, same output". int8 is never the automatic
choice: it measured slower than bf16 on AMX and than fp32 at the few rows of a denoising
step (its per-call quantisation dominates there), and it must first show that it keeps
exact match within 1 point and edit similarity within 0.01 on the held-out tasks; it is
there to be chosen (`dtype="int8"`) and measured.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .hardware import fast_bf16, instruction_sets

DTYPES = ("auto", "float32", "bfloat16", "int8")
# torch.ao's engine for x86: fbgemm for most shapes, oneDNN where it is faster.
INT8_ENGINE = "x86"
# The CPU's bf16 matrix units: /proc/cpuinfo's names, and as a reason shows them.
BF16_UNITS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}


@dataclass(frozen=True)
class Precision:
    """What a model runs in and why: `requested` as the caller said it ("auto", a dtype,
    or "as built" for a network made in memory), the `dtype` it got, and the `reason`."""

    requested: str
    dtype: str  # "float32", "bfloat16" or "int8"
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def weight_dtype(self) -> torch.dtype:
        """The dtype the network's weights are cast to (int8 quantises from float32)."""
        return torch.bfloat16 if self.dtype == "bfloat16" else torch.float32


def check(requested: str) -> str:
    if requested not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {requested!r}")
    return requested


def choose(requested: str, device: torch.device) -> Precision:
    """The precision for `device`: "auto" is bf16 where bf16 matrix products are fast
    (CUDA, or a CPU with AMX or AVX512-BF16), else float32; anything else as asked.
    ValueError for an unknown name, or int8 anywhere but on the CPU."""
    check(requested)
    if requested == "int8":
        if device.type != "cpu":
            raise ValueError("dtype int8 (dynamic quantisation) runs on the CPU only")
        if INT8_ENGINE not in torch.backends.quantized.supported_engines:
            raise ValueError(f"this torch has no {INT8_ENGINE} int8 engine")
        return Precision(requested, "int8", "asked for")
    if requested != "auto":
        return Precision(requested, requested, "asked for")
    if device.type == "cuda":
        if fast_bf16(device):
            return Precision(
                "auto", "bfloat16", f"{torch.cuda.get_device_name(device)} has fast bf16"
            )
        return Precision("auto", "float32", "no fast bf16 on this GPU")
    if fast_bf16(device):
        present = instruction_sets()
        have = [shown for name, shown in BF16_UNITS.items() if present.get(name)]
        if not have:  # oneDNN found bf16 kernels /proc/cpuinfo does not name
            return Precision("auto", "bfloat16", "this CPU passes oneDNN's bf16 test")
        return Precision("auto", "bfloat16", f"this CPU has {' and '.join(have)}")
    return Precision(
        "auto", "float32", "no fast bf16 on this CPU, which has neither AMX nor AVX512-BF16"
    )


def why(precision: dict[str, str]) -> str:
    """The reason of a precision (`Precision.to_dict()`) as a person reads it next to the
    dtype: "auto: this CPU has AVX512-BF16", "asked for", "auto: no fast bf16 on this CPU,
    which has neither AMX nor AVX512-BF16"; "" when nothing was recorded."""
    reason = precision.get("reason", "")
    return f"auto: {reason}" if precision.get("requested") == "auto" else reason


PACKED = "weights packed for oneDNN"


def packs_weights(precision: Precision, device: torch.device) -> bool:
    """Whether a network in `precision` on `device` keeps its weights reordered for oneDNN
    (`transformer.PackedWeight`): bf16 on a CPU whose oneDNN has bf16 kernels. The same
    kernel either way, so the same bits; only the per-call reorder of the weight goes."""
    return (
        precision.dtype == "bfloat16"
        and device.type == "cpu"
        and torch.backends.mkldnn.is_available()
        and fast_bf16(device)
        and _has_packing_ops()
    )


def _has_packing_ops() -> bool:
    # Private torch ops (Inductor's own); a torch without them runs plain F.linear.
    try:
        ops = (torch.ops.mkldnn._reorder_linear_weight, torch.ops.mkldnn._linear_pointwise)
    except AttributeError:
        return False
    return all(ops)


def apply(model: nn.Module, precision: Precision) -> nn.Module:
    """`model` (in eval mode, on its device) in `precision`: cast to its weight dtype, and
    for int8 its linear layers replaced by dynamically quantised ones, in place."""
    model.to(precision.weight_dtype)
    if precision.dtype == "int8":
        torch.backends.quantized.engine = INT8_ENGINE
        with warnings.catch_warnings():
            # torch.ao.quantization is deprecated in favour of torchao, which is not a
            # dependency; the eager dynamic path still works in the pinned torch.
            warnings.simplefilter("ignore")
            torch.ao.quantization.quantize_dynamic(
                model,
                {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
                dtype=torch.qint8,
                inplace=True,
            )
    return model


def _quantised(module: nn.Module) -> bool:
    return isinstance(module, torch.ao.nn.quantized.dynamic.Linear)


def of(model: nn.Module) -> str:
    """The precision name a network is in now: "int8" when its linear layers are
    quantised, else its parameters' dtype."""
    if any(_quantised(m) for m in model.modules()):
        return "int8"
    return str(next(model.parameters()).dtype).removeprefix("torch.")


def weight_stats(model: nn.Module) -> tuple[int, int]:
    """(parameters, bytes) of a network's weights, quantised linear layers included (their
    packed weights are not `parameters()`)."""
    count = size = 0
    for p in model.parameters():
        count += p.numel()
        size += p.numel() * p.element_size()
    for m in model.modules():
        if _quantised(m):
            packed: Any = m  # its weight() and bias() unpack; typeshed says tensors
            w = packed.weight()
            count += w.numel()
            size += w.numel()  # one byte each (scales aside)
            b = packed.bias()
            if b is not None:
                count += b.numel()
                size += b.numel() * b.element_size()
    return count, size
