"""The transformer of the open diffusion checkpoints, run with full (bidirectional) attention.

Dream, DiffuCoder, Dream-Coder and Open-dCoder are Qwen2 decoders (Yang et al. 2024) and
LLaDA is a Llama decoder (Touvron et al. 2023) whose blocks are named after OLMo's.
Both are the same computation: pre-norm blocks with RMSNorm, rotary position embeddings
on halves of each head (the "rotate_half" layout), grouped-query attention and a SwiGLU
feed-forward; Qwen2 adds biases to the query, key and value projections. Masked diffusion
models run them without the causal mask: every position attends to every other one,
except batch padding.

The parameter names here are diffill's own; `checkpoint` maps each family's names onto
them. `tests/test_hf_checkpoints.py` checks the logits against `transformers`' Qwen2 and
Llama models run with a full attention mask.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DecoderConfig:
    vocab_size: int  # rows of the embedding, columns of the logits (may exceed the tokenizer's)
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    mlp_dim: int
    rope_theta: float
    norm_eps: float
    qkv_bias: bool  # Qwen2: biases on the query/key/value projections
    bias: bool  # biases on every other linear layer too (LLaDA's include_bias)
    tie_embeddings: bool  # the output projection is the embedding matrix
    max_positions: int

    def __post_init__(self) -> None:
        assert self.n_heads % self.n_kv_heads == 0, "query heads must split into kv groups"
        assert self.head_dim % 2 == 0, "rotary embeddings need an even head dim"
        assert min(self.vocab_size, self.dim, self.n_layers, self.mlp_dim) > 0

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    """Zhang & Sennrich 2019; normalised in float32, scaled in the input dtype (as Qwen2,
    Llama and LLaDA do)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE (Su et al. 2021) with the two halves of each head as the pairs, in float32.
    x (B, H, T, D); cos, sin (B, 1, T, D)."""
    xf = x.float()
    x1, x2 = xf.chunk(2, dim=-1)
    return (xf * cos + torch.cat((-x2, x1), dim=-1) * sin).to(x.dtype)


class Block(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        inner, kv = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
        qkv_bias = cfg.qkv_bias or cfg.bias
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.q = nn.Linear(cfg.dim, inner, bias=qkv_bias)
        self.k = nn.Linear(cfg.dim, kv, bias=qkv_bias)
        self.v = nn.Linear(cfg.dim, kv, bias=qkv_bias)
        self.o = nn.Linear(inner, cfg.dim, bias=cfg.bias)
        self.mlp_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.gate = nn.Linear(cfg.dim, cfg.mlp_dim, bias=cfg.bias)
        self.up = nn.Linear(cfg.dim, cfg.mlp_dim, bias=cfg.bias)
        self.down = nn.Linear(cfg.mlp_dim, cfg.dim, bias=cfg.bias)

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C)
        cos: torch.Tensor,  # (B, 1, T, D) float32
        sin: torch.Tensor,
        mask: torch.Tensor | None,  # (B, 1, 1, T) bool, True = key may be attended to
    ) -> torch.Tensor:
        B, T, _ = x.shape
        cfg = self.cfg
        h = self.attn_norm(x)
        q = self.q(h).view(B, T, cfg.n_heads, cfg.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = self.k(h).view(B, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)  # (B, Hkv, T, D)
        v = self.v(h).view(B, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        q, k = rotary(q, cos, sin), rotary(k, cos, sin)
        group = cfg.n_heads // cfg.n_kv_heads
        if group > 1:  # grouped-query attention: each kv head serves `group` query heads
            k = k[:, :, None].expand(B, cfg.n_kv_heads, group, T, cfg.head_dim).flatten(1, 2)
            v = v[:, :, None].expand(B, cfg.n_kv_heads, group, T, cfg.head_dim).flatten(1, 2)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # no causal mask
        x = x + self.o(a.transpose(1, 2).reshape(B, T, -1))
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))  # SwiGLU (Shazeer 2020)


def in_weight_dtype(device: torch.device) -> torch.autocast:
    """The network computes in the dtype its weights were loaded in (`precision.choose`),
    also under a caller's autocast: float32 asked for stays float32 (transformers' exact
    arithmetic), and nothing but the load decides bf16. This network only ever infers."""
    return torch.autocast(device.type, enabled=False)


class BidirectionalDecoder(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.head = None if cfg.tie_embeddings else nn.Linear(cfg.dim, cfg.vocab_size, bias=False)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden(self, tokens: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Final hidden states (B, T, C) of `tokens` (B, T) at positions 0..T-1.

        valid: (B, T) bool; False marks right padding, which no position attends to.
        """
        B, T = tokens.shape
        d = self.cfg.head_dim
        inv_freq = 1.0 / (
            self.cfg.rope_theta
            ** (torch.arange(0, d, 2, device=tokens.device, dtype=torch.float32) / d)
        )
        angles = torch.arange(T, device=tokens.device, dtype=torch.float32)[:, None] * inv_freq
        angles = torch.cat((angles, angles), dim=-1)  # (T, D)
        cos = angles.cos()[None, None].expand(B, 1, T, d)
        sin = angles.sin()[None, None].expand(B, 1, T, d)
        mask = None
        if valid is not None and not bool(valid.all()):
            mask = valid[:, None, None, :]
        with in_weight_dtype(tokens.device):
            x = self.embed(tokens)
            for layer in self.layers:
                x = layer(x, cos, sin, mask)
            return self.norm(x)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """(…, C) hidden states -> (…, vocab_size) logits."""
        with in_weight_dtype(h.device):
            if self.head is None:
                return F.linear(h, self.embed.weight)
            return self.head(h)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        return self.logits(self.hidden(tokens, valid))
