"""The contract between diffill's model and everything that drives it: `Backend`, the
facts a backend states about itself, and the request and result of one infill.

Every backend (diffill's masked-diffusion model in `backends.mdlm`, its autoregressive
peer in `backends.autoregressive`, the open diffusion checkpoints in
`backends.open_checkpoints`) implements `Backend`; `load()` returns one. Callers use only
what is declared here: no `hasattr`, no attributes set from outside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from . import precision as precisions
from .hardware import describe
from .precision import Precision
from .sampler import CancelHandle, Step


class InfillError(ValueError):
    """A request the model cannot serve (too long, bad option); the message says why."""


@dataclass
class InfillResult:
    text: str  # the generated middle
    tokens: list[int]  # its token ids (pads and other slack removed)
    confidence: float  # mean probability of the generated tokens when committed
    token_confidence: list[float]
    steps: int  # model calls that decoded the middle (the call encoding the context aside)
    seconds: float
    length: int  # canvas length of the kept candidate (tokens generated, for the AR peer)
    candidates: list[int] = field(default_factory=list)  # canvas lengths tried
    score: float = 0.0  # mean log-confidence of the kept candidate
    context_tokens: int = 0  # context tokens the model saw (sentinels included)
    context_computed: int = 0  # how many of those this call encoded; the rest were cached


@dataclass
class InfillRequest:
    prefix: str
    suffix: str
    middle: str | None = None  # original text, re-noised by `strength`
    strength: float = 1.0
    length: int | None = None
    # Character ranges of `middle` to re-noise (the rest is kept), e.g. under a syntax
    # error; each range also gets a little masked slack, in which unused slots become pads.
    repair: tuple[tuple[int, int], ...] | None = None
    accept: Callable[[str], bool] | None = None  # this request's candidate check
    # The middle is (the rest of) one line: the result ends before its first line break,
    # and a backend that writes left to right stops there instead of writing on.
    one_line: bool = False
    # A middle the model writes from nothing, at a length of its choosing, ends before
    # its first loop's repeats (`requests.loop_free_length`), and a backend that writes
    # left to right stops there. False keeps what the model wrote (to measure without).
    cut_loops: bool = True

    @property
    def cuts_loops(self) -> bool:
        """Whether this request's result is cut at a loop: not with a given middle
        (touch-up, repair: the user's own tokens stay, repeats or not), nor at a fixed
        `length` (the caller asked for that many tokens)."""
        return self.cut_loops and self.middle is None and self.length is None


@dataclass(frozen=True)
class ModelFacts:
    """What a loaded backend is, for `diffill info`, status lines and reports."""

    name: str  # "default" for the shipped model, a pulled model's name (hub), else its folder
    family: str  # "diffill-mdlm", "diffill-fim-ar", "dream", "llada", "open-dcoder"
    parameters: int
    device: str  # where it runs, as torch names it: "cpu", "cuda:0"
    hardware: str  # a human description of that device: the GPU, or the CPU, threads, ISA
    dtype: str  # what it computes in: "bfloat16", "float32" or "int8" (linear layers)
    folder: Path | None  # None for a model built in memory (tests)
    weight_bytes: int  # of the weights as loaded (parameters x bytes per parameter)
    config: dict[str, Any]  # the network's config
    training: dict[str, Any] = field(default_factory=dict)  # recorded at training time
    # An open checkpoint's own facts (family, special ids and where each was read).
    checkpoint: dict[str, Any] = field(default_factory=dict)
    # How `dtype` was chosen: {"requested", "dtype", "reason"} (`precision.Precision`).
    precision: dict[str, str] = field(default_factory=dict)

    @property
    def dtype_reason(self) -> str:
        """Why the model computes in `dtype`, as `diffill info` and status lines show it
        after the dtype: "auto: this CPU has AVX512-BF16", "asked for", "auto: no fast
        bf16 on this CPU, which has neither AMX nor AVX512-BF16"."""
        return precisions.why(self.precision)

    @classmethod
    def of(
        cls,
        network: torch.nn.Module,
        config: dict[str, Any],
        name: str,
        family: str,
        folder: Path | None = None,
        training: dict[str, Any] | None = None,
        checkpoint: dict[str, Any] | None = None,
        precision: Precision | None = None,
    ) -> ModelFacts:
        """The facts of `network` (built from `config`) as it sits in memory now.

        precision: how its dtype was chosen (`load` says); None for a network given as
        built."""
        device = next(network.parameters()).device
        dtype = precisions.of(network)
        if precision is None:
            precision = Precision("as built", dtype, "the network was given in this dtype")
        # The facts state one decision: the weights must be in the dtype it chose.
        assert precision.dtype == dtype, f"{precision.dtype} chosen but the network is {dtype}"
        parameters, weight_bytes = precisions.weight_stats(network)
        return cls(
            name=name,
            family=family,
            parameters=parameters,
            device=str(device),
            hardware=describe(device),
            dtype=dtype,
            folder=folder,
            weight_bytes=weight_bytes,
            config=config,
            training=dict(training or {}),
            checkpoint=dict(checkpoint or {}),
            precision=precision.to_dict(),
        )


@runtime_checkable
class Backend(Protocol):
    """A loaded model that fills the gap between a prefix and a suffix.

    Same inputs and seed give the same output. Errors: `InfillError` for a request the
    backend cannot serve, `ValueError` for an unknown sampler option, `Cancelled` when
    `cancel` is set between steps.
    """

    facts: ModelFacts

    @property
    def max_context_tokens(self) -> int:
        """Context tokens (prefix and suffix) the model is shown; set by `load`."""
        ...

    @property
    def max_span_tokens(self) -> int:
        """The longest middle, in tokens, the model writes."""
        ...

    def infill(
        self,
        prefix: str,
        suffix: str = "",
        *,
        middle: str | None = None,
        strength: float = 1.0,
        length: int | None = None,
        repair: Sequence[tuple[int, int]] | None = None,
        on_step: Callable[[str, Step], None] | None = None,
        cancel: CancelHandle | None = None,
        accept: Callable[[str], bool] | None = None,
        one_line: bool = False,
        **sampler_options: Any,
    ) -> InfillResult:
        """Generate the text between `prefix` and `suffix`.

        middle, strength: rewrite `middle` instead of generating from nothing; `strength`
            in (0, 1] is the share of its tokens re-noised (1 regenerates it entirely).
        length: canvas length in tokens (at most `max_span_tokens`); None lets the model
            choose.
        repair: character ranges of `middle` to re-noise instead of a random share (the
            syntax repair: only the tokens near an error are written again).
        on_step: called with (intermediate text, Step) after every step.
        cancel: anything with `is_set()`; checked between steps (raises `Cancelled`).
        accept: a check on candidate texts (for example "it parses"); passing candidates
            are preferred over better-scored failing ones.
        one_line: the middle is one line (ghost text, a single-line infill): the result
            holds no line break; the block model and the AR peer stop decoding at the
            first, the masked-diffusion models cut their canvas there. It wins over
            `length` where the line ends sooner.
        sampler_options: `SamplerOptions` fields (steps, threshold, order, temperature,
            top_p, remask, seed, ...); an unknown name raises ValueError.
        """
        ...

    def infill_batch(
        self,
        pairs: Sequence[tuple[str, str] | InfillRequest],
        *,
        length: int | None = None,
        cancel: CancelHandle | None = None,
        accept: Callable[[str], bool] | None = None,
        one_line: bool = False,
        **sampler_options: Any,
    ) -> list[InfillResult]:
        """`infill` for many (prefix, suffix) pairs or `InfillRequest`s in one batch;
        `length` and `one_line` apply to the pairs, `accept` to every request that has
        none."""
        ...

    def logits(self, token_ids: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V) float32 logits of `token_ids` (B, T), position i predicting token i.

        valid: (B, T) bool; False marks right padding (attended by nothing).
        """
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` is to this model."""
        ...

    def warm_up(self) -> None:
        """Pay the one-time costs now: capturing CUDA graphs, compiling the denoising step
        where asked (`backends.steps`), first allocations. Optional: `infill`
        works without it, its first call slower; a long-lived caller (the Language Server,
        in the background at start) calls it once after loading."""
        ...

    @property
    def reuses_context(self) -> bool:
        """Whether this backend keeps encoded contexts across requests (so that
        `warm_context` does something)."""
        ...

    def warm_context(self, prefix: str, suffix: str, cancel: CancelHandle | None = None) -> int:
        """Encode the context of a request for (prefix, suffix) into the backend's context
        cache without decoding anything, so that a request for it soon after finds it
        ready; returns how many context tokens this call encoded (0 for a backend that
        keeps no context, `reuses_context` False). `cancel` stops it: the block model
        between chunks, keeping what it encoded by then; the masked-diffusion model between
        layers, keeping nothing (a part of a bidirectional encoding is of no use)."""
        ...

    def length_distribution(self, prefix: str, suffix: str) -> torch.Tensor | None:
        """The model's probabilities over span lengths 0, 1, ... for this gap, or None for
        a backend that does not predict lengths."""
        ...
