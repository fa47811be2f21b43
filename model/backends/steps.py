"""How the denoising step of diffill's transformer runs: eagerly (the default), compiled by
`torch.compile`, or on CUDA as a replayed CUDA graph.

A denoising step is one forward pass of the canvas (a block and its anchor for the block
model, candidate rows for the masked-diffusion model) written after the context's keys and
values in a `KVBuffer`. `Steps` runs it; a backend makes one per network and calls
`prepare()` from its `warm_up()`, so only a long-lived caller (the Language Server, at
start, in the background) pays for compiling. A one-off CLI call stays eager.

On a CPU the step stays eager unless $DIFFILL_COMPILE=1 asks for compiling. Measured on
the base block model (docs/speed.md): compiled steps cost 13% less CPU, but compiling took
27 s of CPU (80 s on a busy machine) with the worker unable to serve meanwhile, and in
bf16 the fused kernels round differently, so a compiled server answered other tokens than
the eager CLI for the same request. Exactness across doors is worth more than 13%.

- CPU, when asked: `torch.compile(dynamic=True)`, one graph for every context length and
  canvas width.
  Inductor's FX-graph and AOT caches live under `cache_dir()` (`~/.cache/diffill/compile`,
  or `$DIFFILL_CACHE_DIR/compile`), so a later process reuses the generated kernels.
- CUDA: the block step as a CUDA graph (Nvidia's `torch.cuda.CUDAGraph`), which replays
  the whole network with one launch: a step at the block size is launch-bound otherwise.
  A graph needs fixed shapes and addresses, so the step attends to every slot of the
  buffer under an additive mask that hides the slots past the block (`static_inputs`),
  and writes its keys and values with `index_copy_` at slots given as a tensor. One graph
  per (buffer, block width), captured on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from .transformer import DiffusionLM, KVBuffer

# Set to 1 to compile the step on a CPU (see the module's doc for why it is off).
COMPILE_ENV = "DIFFILL_COMPILE"

# (tokens (B, T), positions (B, T), mask, buffer, write_at) -> hidden states (B, T, C)
StepFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, KVBuffer, int], torch.Tensor]


# Captured graphs kept (each holds its buffer): the context cache's entries and a few more.
MAX_GRAPHS = 8


def cache_dir() -> Path:
    """Where compiled steps are kept between processes."""
    root = os.environ.get("DIFFILL_CACHE_DIR") or Path.home() / ".cache" / "diffill"
    return Path(root) / "compile"


def static_inputs(
    at: int, width: int, static_width: int, capacity: int, dtype: torch.dtype, device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The slots and the mask of a fixed-shape step of `static_width` tokens, of which the
    first `width` are real, written from slot `at` on.

    Returns index (static_width,): the slots written, at.. (the padding after the real
    tokens writes past them, where no real token looks); and mask (1, 1, 1, capacity): an
    additive bias in `dtype`, 0 on the slots up to the real tokens' end, -inf after, so
    every query sees what the dynamic step (which attends to slots 0..at+width) sees.
    """
    if not 0 < width <= static_width or at + static_width > capacity:
        raise ValueError(
            f"a step of {width} (padded to {static_width}) tokens at slot {at} does not fit "
            f"a buffer of {capacity} slots"
        )
    index = torch.arange(at, at + static_width, device=device)
    mask = torch.zeros(1, 1, 1, capacity, dtype=dtype, device=device)
    mask[..., at + width :] = float("-inf")
    return index, mask


class _Graph:
    """One captured step: static inputs copied in, the network replayed, hidden states out."""

    def __init__(self, model: DiffusionLM, buffer: KVBuffer, width: int) -> None:
        device = buffer.k[0].device
        dtype = buffer.k[0].dtype
        self.width = width
        self.capacity = buffer.capacity
        # The graph holds the buffer's addresses, not the buffer: keep it alive.
        self.buffer = buffer
        self.tokens = torch.zeros(1, width, dtype=torch.long, device=device)
        self.positions = torch.zeros(1, width, dtype=torch.long, device=device)
        # Warm-up passes on a side stream (as capture requires), then the capture, write
        # into the buffer's last slots: past any step's end at the time of capture (a step
        # ends `width` or more slots before the end), so nothing read is overwritten.
        tail = buffer.capacity - width
        self.index, self.mask = static_inputs(tail, width, width, buffer.capacity, dtype, device)
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                model.hidden(self.tokens, self.positions, self.mask, buffer, self.index)
        torch.cuda.current_stream(device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out, _ = model.hidden(self.tokens, self.positions, self.mask, buffer, self.index)

    def __call__(self, tokens: torch.Tensor, positions: torch.Tensor, at: int) -> torch.Tensor:
        T = tokens.shape[1]
        dtype = self.mask.dtype
        index, mask = static_inputs(at, T, self.width, self.capacity, dtype, tokens.device)
        self.tokens[:, :T] = tokens
        self.tokens[:, T:] = tokens[:, -1:]
        self.positions[:, :T] = positions
        self.positions[:, T:] = positions[:, -1:]
        self.index.copy_(index)
        self.mask.copy_(mask)
        self.graph.replay()
        return self.out[:, :T]


class Steps:
    """Runs a network's denoising step: `block` (the block model's, no mask) and `canvas`
    (the masked-diffusion model's, with an optional mask). Eager until `prepare()`."""

    def __init__(self, model: DiffusionLM) -> None:
        self.model = model
        self.mode = "eager"
        self._step: StepFn = self._eager
        self._graphs: dict[tuple[int, int], _Graph] = {}  # by (buffer, width), oldest first
        self.block_width: int | None = None  # the block step's width, for CUDA graphs

    def _eager(self, tokens, positions, mask, buffer, at) -> torch.Tensor:
        h, _ = self.model.hidden(tokens, positions, mask, buffer, at)
        return h

    def prepare(self, block_width: int | None = None) -> str:
        """Arrange for CUDA graphs of the block step of `block_width` tokens (CUDA), or
        compile the step (CPU, only with $DIFFILL_COMPILE=1); returns the mode now in use
        ("eager", "compiled", "cuda-graphs")."""
        device = next(self.model.parameters()).device
        if device.type == "cuda" and block_width is not None:
            self.block_width = block_width
            self.mode = "cuda-graphs"
            return self.mode
        if self.mode == "eager" and os.environ.get(COMPILE_ENV) == "1":
            if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:  # a user's own setting wins
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir() / "inductor")
            self._step = torch.compile(self._eager, dynamic=True)
            self.mode = "compiled"
        return self.mode

    def block(
        self, tokens: torch.Tensor, positions: torch.Tensor, buffer: KVBuffer, at: int
    ) -> torch.Tensor:
        """Hidden states (1, T, C) of a block step written at slot `at` (no mask)."""
        width = (self.block_width or 0) + 1  # the anchor and the block
        if (
            self.mode == "cuda-graphs"
            and tokens.shape[1] <= width
            and at + width <= buffer.capacity
        ):
            key = (id(buffer.k[0]), width)
            graph = self._graphs.get(key)
            if graph is None:
                while len(self._graphs) >= MAX_GRAPHS:
                    self._graphs.pop(next(iter(self._graphs)))
                graph = self._graphs[key] = _Graph(self.model, buffer, width)
            return graph(tokens, positions, at)
        return self._step(tokens, positions, None, buffer, at)

    def canvas(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        mask: torch.Tensor | None,
        buffer: KVBuffer,
        at: int,
    ) -> torch.Tensor:
        """Hidden states (R, L, C) of canvas rows written at slot `at` under `mask`."""
        if self.mode == "cuda-graphs":
            return self._eager(tokens, positions, mask, buffer, at)
        return self._step(tokens, positions, mask, buffer, at)
