"""The autoregressive peer that diffusion decoding is measured against, as a `Backend`.

It is the same network (`transformer.DiffusionLM` with `causal=True`), the same size and
tokenizer, trained on the same windows and spans as the diffusion model, with the
fill-in-the-middle transformation in prefix-suffix-middle order (Bavarian et al. 2022;
examples and loss in `training.fim`):

    [<bof>] prefix  SUFFIX  suffix [<eof>]  MIDDLE  middle  END

and decoded greedily, one token per model call, with a key/value cache. It shares the
diffusion model's tokenizer, so its sentinels are that tokenizer's special tokens, which
never occur in text: SUFFIX is `<mask>`, MIDDLE is `<len>` and END is `<pad>`.

What a left-to-right decoder cannot do is refused with `InfillError`: touching up or
repairing a given middle (`middle` with `strength` < 1, `repair`) and sampling
(`temperature` > 0). The options that steer parallel unmasking (steps, threshold,
max_steps, order, remask, length_candidates) have nothing to act on here; they are checked
like everywhere else and then have no effect, so one evaluation can drive every backend.
`length` caps the tokens written; the peer's own option `min_new_tokens` holds END back
(for timing fixed lengths). It has no length head (`length_distribution` is None) and
writes one candidate, so `accept` has nothing to choose between.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch

from ..backend import InfillError, InfillRequest, InfillResult, ModelFacts
from ..checkpoint import AR_MODEL_TYPE, Checkpoint
from ..requests import Call, InfillBackend, OnStep, loop_free_length, middle_text
from ..sampler import CancelHandle, Cancelled, SamplerOptions, Step
from ..tokenizer import CodeTokenizer
from .transformer import DiffusionLM, KVBuffer

DEFAULT_MAX_NEW_TOKENS = 128


def sentinels(tok: CodeTokenizer) -> tuple[int, int, int]:
    """(SUFFIX, MIDDLE, END) token ids."""
    return tok.mask_id, tok.len_id, tok.pad_id


@dataclass(frozen=True)
class Decoding:
    """The peer's reading of a call's sampler options."""

    min_new_tokens: int = 0  # END is not allowed before this many tokens


class ARInfiller(InfillBackend[Decoding]):
    """Left-to-right fill-in-the-middle with a key/value cache, one request at a time."""

    model: DiffusionLM
    tokenizer: CodeTokenizer

    def __init__(
        self,
        ckpt: Checkpoint,
        name: str = "ar-peer",
        *,
        max_context_tokens: int | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    ) -> None:
        model, tokenizer = ckpt.model, ckpt.tokenizer
        if not model.cfg.causal:
            raise ValueError("the autoregressive peer needs a causal model")
        config = model.cfg.to_dict()
        facts = ModelFacts.of(
            model, config, name, AR_MODEL_TYPE, ckpt.folder, ckpt.info, precision=ckpt.precision
        )
        super().__init__(model, tokenizer, facts, max_context_tokens, max_new_tokens)
        _, _, self.end_id = sentinels(tokenizer)
        self.forbidden = torch.tensor(
            sorted(tokenizer.special_ids - {self.end_id}), device=self.device
        )

    def prompt(self, prefix: str, suffix: str) -> list[int]:
        suffix_id, middle_id, _ = sentinels(self.tokenizer)
        pre, suf = self._context(prefix, suffix)
        return [*pre, suffix_id, *suf, middle_id]

    @torch.no_grad()
    def logits(self, token_ids: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V) float32 logits of `token_ids` (B, T), position i predicting token i.

        The network's output at i predicts token i+1, so it is moved to i+1; position 0
        keeps its own (nothing predicts it), as for the shifted open checkpoints.
        valid: (B, T) bool, False marking right padding; under the causal mask no earlier
        position sees it, so it changes nothing.
        """
        token_ids = token_ids.to(self.device)
        B, T = token_ids.shape
        h, _ = self.model.hidden(token_ids, torch.arange(T, device=self.device).expand(B, T))
        out = self.model.token_logits(h).float()
        return torch.cat((out[:, :1], out[:, :-1]), dim=1)

    def length_distribution(self, prefix: str, suffix: str) -> None:
        return None  # no length head: the middle ends where the model writes END

    # -- the steps `InfillBackend` leaves to a backend ------------------------------------

    def _sentinels(self) -> tuple[int, int]:
        return self.tokenizer.bof_id, self.tokenizer.eof_id

    def _options(self, sampler_options: dict[str, Any]) -> Decoding:
        options = dict(sampler_options)
        min_new = options.pop("min_new_tokens", 0)
        if not isinstance(min_new, int) or min_new < 0:
            raise InfillError(f"min_new_tokens must be a whole number, not {min_new!r}")
        if SamplerOptions.of(**options).temperature > 0:
            raise InfillError("the autoregressive peer decodes greedily; temperature must be 0")
        return Decoding(min_new)

    def _run(self, call: Call[Decoding]) -> list[InfillResult]:
        """One by one: an editor waits on one request; batching would flatter throughput."""
        requests, options, on_step, cancel = call.requests, call.options, call.on_step, call.cancel
        for r in requests:
            if r.repair is not None or (r.middle is not None and r.strength < 1):
                raise InfillError(
                    "the autoregressive peer writes a middle from nothing; it cannot touch "
                    "up or repair a given one (middle with strength < 1, repair)"
                )
        return [self._generate(r, options, on_step, cancel) for r in requests]

    @torch.no_grad()
    def _generate(
        self,
        r: InfillRequest,
        options: Decoding,
        on_step: OnStep | None,
        cancel: CancelHandle | None,
    ) -> InfillResult:
        """The greedy middle of one request: at most `length` (or `max_span_tokens`)
        tokens, ended by END once `min_new_tokens` are written, by a line break when the
        request is for one line, or by a loop (`requests.loop_free_length`)."""
        t0 = time.perf_counter()
        limit = r.length or self.max_span_tokens
        stops = self.tokenizer.line_break_ids if r.one_line else frozenset()
        ids = self.prompt(r.prefix, r.suffix)
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        tokens = torch.tensor([ids], device=self.device)
        positions = torch.arange(len(ids), device=self.device)[None]
        # Keys and values of the prompt and every token written, preallocated: each token
        # writes its own at its slot and attends to the slots before, with no copy.
        dtype = self.model.embed.weight.dtype
        kv = KVBuffer(self.model.cfg, 1, len(ids) + limit, dtype, self.device)
        h, _ = self.model.hidden(tokens, positions, past=kv, write_at=0)
        out: list[int] = []
        confidence: list[float] = []
        pos = len(ids)
        steps = 0  # model calls after the prompt's, which writes the first token
        while True:
            logits = self.model.token_logits(h[:, -1]).float()[0]
            logits[self.forbidden] = float("-inf")
            if len(out) < options.min_new_tokens:
                logits[self.end_id] = float("-inf")
            nxt = int(logits.argmax())
            if nxt == self.end_id:
                break
            out.append(nxt)
            confidence.append(float(torch.softmax(logits, -1)[nxt]))
            if on_step is not None:
                # `masked`: the most tokens still to come
                step = Step(len(out), torch.tensor([out]), limit - len(out))
                on_step(self.tokenizer.decode(out), step)
            if len(out) >= limit or nxt in stops:
                break
            if r.cuts_loops and loop_free_length(self.tokenizer, out, len(out) - 1) < len(out):
                break
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            step_tokens = torch.tensor([[nxt]], device=self.device)
            step_pos = torch.tensor([[pos]], device=self.device)
            h, _ = self.model.hidden(step_tokens, step_pos, past=kv, write_at=pos)
            pos += 1
            steps += 1
        text, n = middle_text(self.tokenizer, out, r.one_line, r.cuts_loops)
        out, confidence = out[:n], confidence[:n]
        return InfillResult(
            text=text,
            tokens=out,
            confidence=sum(confidence) / n if n else 1.0,
            token_confidence=confidence,
            steps=steps,
            seconds=time.perf_counter() - t0,
            length=n,
            candidates=[n],
            score=sum(math.log(max(c, 1e-9)) for c in confidence) / n if n else 0.0,
            context_tokens=len(ids),
            context_computed=len(ids),
        )
