"""The bidirectional transformer that denoises a masked canvas, and its length head.

Pre-norm blocks with RMSNorm, rotary position embeddings (Su et al. 2021, RoFormer),
SwiGLU feed-forward (Shazeer 2020), `scaled_dot_product_attention` and tied input/output
embeddings.

Attention follows roles rather than a causal order. Every position has a *group*:
0 for clean context, g > 0 for the positions of canvas g, -1 for batch padding.
Context attends to context only, so its keys and values never depend on the canvas and
can be computed once per request and reused at every denoising step (exactly, not as an
approximation). A canvas attends to the context and to itself. Positions are explicit,
so a canvas and the suffix after it can sit anywhere on the rotary axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 8192
    dim: int = 384
    n_layers: int = 8
    n_heads: int = 6
    # SwiGLU hidden width; 8/3·dim keeps the parameter count of a 4·dim GELU MLP.
    mlp_dim: int = 1024
    rope_theta: float = 10_000.0
    norm_eps: float = 1e-5
    # Positions reserved for a span: the suffix always starts this far after the canvas
    # start, so context encodings do not depend on the canvas length. Also the number of
    # classes of the length head (span lengths 0 .. span_positions - 1).
    span_positions: int = 256
    # True makes it a left-to-right language model: the same network with a causal mask,
    # used as the autoregressive peer that diffusion decoding is measured against.
    causal: bool = False
    # False for the block-diffusion model, whose middle ends with an end token instead.
    length_head: bool = True

    def __post_init__(self) -> None:
        assert self.dim % self.n_heads == 0, "dim must split evenly into heads"
        assert (self.dim // self.n_heads) % 2 == 0, "rotary embeddings need an even head dim"
        assert self.vocab_size > 0 and self.n_layers > 0 and self.span_positions > 1

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Build from a saved dict: missing keys take defaults, unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)


SIZES: dict[str, dict] = {
    # For tests: random weights, fast on any CPU (about 1.5M parameters).
    "tiny": dict(dim=128, n_layers=2, n_heads=4, mlp_dim=352),
    # The proxy study's size (about 6.9M parameters at an 8k vocabulary, 2.1M of them the
    # embedding): large enough to rank design choices, small enough for many arms on a CPU.
    "proxy": dict(dim=256, n_layers=6, n_heads=4, mlp_dim=704),
    # The default (about 17M parameters at an 8k vocabulary).
    "small": dict(dim=384, n_layers=8, n_heads=6, mlp_dim=1024),
    # About 30M parameters, for accelerator runs.
    "base": dict(dim=512, n_layers=8, n_heads=8, mlp_dim=1408),
}


def config_for_size(size: str, vocab_size: int) -> ModelConfig:
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose one of {sorted(SIZES)}")
    return ModelConfig(vocab_size=vocab_size, **SIZES[size])


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def rotary_table(positions: torch.Tensor, head_dim: int, theta: float) -> torch.Tensor:
    """Complex rotations (B, 1, T, D/2) for positions (B, T): e^(i · position · θ^(-2j/D)).

    Computed once per forward pass and shared by every layer's queries and keys."""
    inv_freq = theta ** (
        -torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim
    )
    angles = positions.to(torch.float32)[:, None, :, None] * inv_freq
    return torch.polar(torch.ones_like(angles), angles)


def rotary(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs of channels of x (B, H, T, D), in float32, by `table`.

    A pair (x1, x2) read as the complex number x1 + i·x2 times e^(iφ) is exactly the
    rotation (x1 cos φ − x2 sin φ, x1 sin φ + x2 cos φ), in one kernel instead of eight."""
    if torch.compiler.is_compiling():
        # Inductor generates no kernels for complex numbers; the same products in real
        # arithmetic fuse into one there.
        x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)
        cos, sin = table.real, table.imag
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2).to(x.dtype)
    pairs = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)).contiguous())
    return torch.view_as_real(pairs * table).flatten(-2).to(x.dtype)


# The row count oneDNN is told to expect when the weight is reordered. With 32 and more
# it picks the blocking that `F.linear` picks, so the packed product is bit for bit the
# plain one for every row count measured (1 to 1,024); with 1 it differs from 33 rows on.
PACK_ROWS = 64


class PackedWeight:
    """A bf16 CPU weight (out, in) also kept reordered, once, into oneDNN's blocked layout,
    as Inductor's freezing pass does.

    `F.linear` on a bf16 CPU tensor reorders the weight at every call. At the 1 to 256 rows
    of a denoising step that reorder costs as much as the product: the same kernel on the
    packed weight is 1.4-2.2x faster there and gives the same bits (docs/speed.md). The
    packed copy is a cache of the weight: not used once the weight has changed in place,
    for inputs of another dtype, under autograd, or while compiling (Inductor packs on its
    own), where `F.linear` runs as before."""

    def __init__(self, weight: torch.Tensor) -> None:
        if weight.device.type != "cpu" or weight.dtype != torch.bfloat16:
            where = f"{weight.dtype} on {weight.device}"
            raise ValueError(f"only bf16 weights on the CPU are packed, not {where}")
        self.weight = weight
        self.version = weight._version
        with torch.no_grad():
            self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), PACK_ROWS)

    def linear(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        w = self.weight
        if (
            w._version != self.version
            or x.dtype != torch.bfloat16
            or (torch.is_grad_enabled() and (w.requires_grad or x.requires_grad))
            or torch.compiler.is_compiling()
        ):
            return F.linear(x, w, bias)
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, bias, "none", [], "")


class PackedLinear(nn.Module):
    """`nn.Linear` with the same parameters (and state_dict keys) and a `PackedWeight`;
    moving or casting it drops the packed copy."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.weight = linear.weight  # (out, in)
        self.bias = linear.bias
        self.packed: PackedWeight | None = PackedWeight(self.weight)

    def _apply(self, fn, recurse=True):
        self.packed = None  # .to(), .float() and .cuda() give the parameters new data
        return super()._apply(fn, recurse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is None:
            return F.linear(x, self.weight, self.bias)
        return self.packed.linear(x, self.bias)

    def extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"in_features={inp}, out_features={out}, packed={self.packed is not None}"


class WeightsWatch:
    """Says whether a network's weights changed (in place, or moved or cast to new storage)
    since it last looked: what encodings kept across calls are checked against before use
    (a few microseconds)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._stamp = self._now()

    def _now(self) -> tuple[tuple[int, int], ...]:
        return tuple((p.data_ptr(), p._version) for p in self.model.parameters())

    def changed(self) -> bool:
        now = self._now()
        changed, self._stamp = now != self._stamp, now
        return changed


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.out = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C)
        rope: torch.Tensor,  # (B, 1, T, D/2) complex, from `rotary_table`
        mask: torch.Tensor | None,  # (B|1, 1, T|1, S) bool (True = may attend) or additive
        past: LayerSlot | None,
        causal: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """past: a slot of a preallocated `KVBuffer`: x's keys and values are written at
        `slot.at` and x attends to the buffer up to its own end, with no copy of the cache;
        or, for a step of fixed shapes (CUDA graphs), written at the slots `slot.index` and
        x attends to every slot of the buffer, under `mask`."""
        B, T, C = x.shape
        H, D = self.cfg.n_heads, self.cfg.head_dim
        q, k, v = self.qkv(x).view(B, T, 3, H, D).permute(2, 0, 3, 1, 4)  # each (B, H, T, D)
        q = rotary(q, rope)
        k = rotary(k, rope)
        new_kv = (k, v)
        if past is not None and past.index is not None:
            past.k.index_copy_(2, past.index, k)
            past.v.index_copy_(2, past.index, v)
            k, v = past.k, past.v
        elif past is not None:
            end = past.at + T
            past.k[:, :, past.at : end] = k
            past.v[:, :, past.at : end] = v
            k, v = past.k[:, :, :end], past.v[:, :, :end]
        # A causal model's prompt is one piece (no cache yet, or written at slot 0 of a
        # buffer, where queries and keys start together); later calls add one token at a
        # time, which may see every key.
        first = past is None or (past.index is None and past.at == 0)
        causal = (causal or self.cfg.causal) and mask is None and first and T > 1
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self.out(y.transpose(1, 2).reshape(B, T, C)), new_kv


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate_up = nn.Linear(cfg.dim, 2 * cfg.mlp_dim, bias=False)
        self.down = nn.Linear(cfg.mlp_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x, rope, mask, past, causal=False):
        a, kv = self.attn(self.attn_norm(x), rope, mask, past, causal)
        x = x + a
        x = x + self.mlp(self.mlp_norm(x))
        return x, kv


KVCache = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class LayerSlot:
    """Where one layer's keys and values go in a `KVBuffer`: slots at.. (attending to the
    slots up to their end), or the slots `index` (attending to all of them; a step whose
    shapes never change, as a CUDA graph needs)."""

    k: torch.Tensor  # (B, H, capacity, D)
    v: torch.Tensor
    at: int
    index: torch.Tensor | None = None  # (T,) long


class KVBuffer:
    """Preallocated keys and values of every layer, (B, H, capacity, D) each.

    A caller keeps track of which slots hold what; `hidden(..., past=buffer, write_at=n)`
    writes the new tokens' keys and values at slots n.. and attends to slots 0..n+T.
    """

    def __init__(
        self, cfg: ModelConfig, batch: int, capacity: int, dtype: torch.dtype, device
    ) -> None:
        shape = (batch, cfg.n_heads, capacity, cfg.head_dim)
        self.capacity = capacity
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.n_layers)]

    @property
    def batch(self) -> int:
        return self.k[0].shape[0]

    def slots(self, at: int | torch.Tensor) -> list[LayerSlot]:
        if isinstance(at, torch.Tensor):
            return [LayerSlot(k, v, -1, at) for k, v in zip(self.k, self.v)]
        return [LayerSlot(k, v, at) for k, v in zip(self.k, self.v)]

    def rows(self, index: torch.Tensor) -> KVBuffer:
        """A buffer of the rows `index` (R,): views of these rows when they are one
        ascending run (rows dropping out of a batch as they finish), else a copy, made
        once for the rows (never per step). Writes to a view reach this buffer."""
        first = int(index[0]) if len(index) else 0
        run = torch.arange(first, first + len(index), device=index.device)
        out = KVBuffer.__new__(KVBuffer)
        out.capacity = self.capacity
        if bool((index == run).all()):
            out.k = [k.narrow(0, first, len(index)) for k in self.k]
            out.v = [v.narrow(0, first, len(index)) for v in self.v]
        else:
            out.k = [k.index_select(0, index) for k in self.k]
            out.v = [v.index_select(0, index) for v in self.v]
        return out


class DiffusionLM(nn.Module):
    """Bidirectional transformer: token logits for every position plus a span-length head."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        # The tied output projection's weight reordered for oneDNN (`pack_weights`).
        self.packed_embedding: PackedWeight | None = None
        # Reads the hidden state of a <len> probe: logits over span lengths.
        self.length_head = (
            nn.Linear(cfg.dim, cfg.span_positions, bias=True) if cfg.length_head else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() == 2:
                # Residual projections scaled down with depth (GPT-2).
                scale = (
                    1 / math.sqrt(2 * self.cfg.n_layers)
                    if name.endswith(("out.weight", "down.weight"))
                    else 1.0
                )
                nn.init.normal_(p, 0.0, std * scale)
            elif name.endswith("length_head.bias"):
                nn.init.zeros_(p)

    def pack_weights(self) -> None:
        """Keep every linear layer's bf16 weight, and the tied output projection's,
        reordered for oneDNN (`PackedLinear`): faster on a CPU, bit for bit the same."""
        linears = [
            (parent, name, child)
            for parent in self.modules()
            for name, child in parent.named_children()
            if type(child) is nn.Linear
        ]
        for parent, name, child in linears:
            setattr(parent, name, PackedLinear(child))
        self.packed_embedding = PackedWeight(self.embed.weight)

    def _apply(self, fn, recurse=True):
        self.packed_embedding = None  # .to(), .float() and .cuda() give the weights new data
        return super()._apply(fn, recurse)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden(
        self,
        tokens: torch.Tensor,  # (B, T) long
        positions: torch.Tensor,  # (B, T) long
        mask: torch.Tensor | None = None,  # (B, 1, T, S) bool or additive
        past: KVBuffer | None = None,
        write_at: int | torch.Tensor = 0,
        causal: bool = False,
        before_layer: Callable[[], None] | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        """Final normalised hidden states (B, T, C) and this call's keys/values per layer.

        past: a buffer of earlier keys/values (see `Attention.forward`): this call's are
            written at slots `write_at`... and it attends to the slots before them; or,
            with `write_at` a tensor (T,) of slots, written there, attending to every slot
            under `mask` (fixed shapes, for CUDA graphs).
        causal: attend causally (only without a mask and with nothing before these
            tokens: the causal kernel).
        before_layer: called before each layer; what it raises stops the pass there (a
            long encode that a cancellation can interrupt).
        """
        x = self.embed(tokens)
        rope = rotary_table(positions, self.cfg.head_dim, self.cfg.rope_theta)
        kvs: KVCache = []
        layer_past: list = [None] * len(self.blocks) if past is None else past.slots(write_at)
        for block, lp in zip(self.blocks, layer_past):
            if before_layer is not None:
                before_layer()
            x, kv = block(x, rope, mask, lp, causal)
            kvs.append(kv)
        return self.norm(x), kvs

    def token_logits(self, h: torch.Tensor) -> torch.Tensor:
        if self.packed_embedding is not None:
            return self.packed_embedding.linear(h)  # tied embeddings, (…, V)
        return F.linear(h, self.embed.weight)  # tied embeddings, (…, V)

    def length_logits(self, h: torch.Tensor) -> torch.Tensor:
        if self.length_head is None:
            raise ValueError("this model has no length head")
        return self.length_head(h)  # (…, span_positions)

    def forward(self, tokens, positions, mask=None, past=None) -> torch.Tensor:
        h, _ = self.hidden(tokens, positions, mask, past)
        return self.token_logits(h)


def group_mask(groups: torch.Tensor) -> torch.Tensor:
    """Attention mask (B, 1, T, T) from position groups (B, T).

    Context (group 0) is attended by every real position; a position also attends to its
    own group; batch padding (group -1) attends only to itself so no row is empty.
    """
    gq = groups[:, :, None]
    gk = groups[:, None, :]
    allowed = ((gk == 0) & (gq >= 0)) | ((gq == gk) & (gq != 0))
    allowed |= (gq == 0) & (gk == 0)
    eye = torch.eye(groups.shape[1], dtype=torch.bool, device=groups.device)
    allowed = allowed | eye
    # padding rows: only the diagonal
    pad_q = gq == -1
    allowed = torch.where(pad_q, eye.expand_as(allowed), allowed)
    return allowed[:, None]
