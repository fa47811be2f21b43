"""A deterministic stand-in for the model where its choice does not matter: a `Backend`
that returns scripted texts in order and records what it was asked."""

from __future__ import annotations

from typing import Any

from diffill.model import InfillRequest, InfillResult, ModelFacts
from diffill.model.tokenizer import CodeTokenizer


def stand_in_facts(name: str) -> ModelFacts:
    return ModelFacts(
        name=name,
        family="stand-in",
        parameters=0,
        device="cpu",
        hardware="the test machine",
        dtype="float32",
        folder=None,
        weight_bytes=0,
        config={},
        training={},
        checkpoint={},
    )


class ScriptedInfiller:
    def __init__(
        self, tokenizer: CodeTokenizer, outputs: list[str], max_span_tokens=255, on_call=None
    ):
        self.tokenizer = tokenizer
        self.outputs = list(outputs)
        self.max_span_tokens = max_span_tokens
        self.max_context_tokens = 2048
        self.facts = stand_in_facts("scripted")
        self.requests: list[dict] = []
        self.batches: list[int] = []  # size of each infill_batch call
        self.on_call = on_call  # run before answering (to change files meanwhile)

    # No compiled step and no context kept: nothing to warm.
    reuses_context = False

    def warm_up(self) -> None:
        pass

    def warm_context(self, prefix: str, suffix: str, cancel: Any = None) -> int:
        return 0

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def _next(self, **request) -> InfillResult:
        self.requests.append(request)
        if self.on_call is not None:
            self.on_call()
        text = self.outputs.pop(0) if len(self.outputs) > 1 else self.outputs[0]
        if request["one_line"]:  # as every backend answers a one-line request
            text = text.split("\n", 1)[0]
        ids = self.tokenizer.encode(text)
        return InfillResult(
            text=text,
            tokens=ids,
            confidence=0.9,
            token_confidence=[0.9] * len(ids),
            steps=3,
            seconds=0.01,
            length=len(ids),
            candidates=[len(ids)],
        )

    def infill(
        self,
        prefix,
        suffix="",
        *,
        middle=None,
        strength=1.0,
        length=None,
        repair=None,
        on_step=None,
        cancel=None,
        accept=None,
        one_line=False,
        **sampler,
    ):
        return self._next(
            prefix=prefix,
            suffix=suffix,
            middle=middle,
            strength=strength,
            repair=repair,
            one_line=one_line,
            sampler=sampler,
        )

    def logits(self, token_ids, valid=None):
        raise NotImplementedError("the scripted stand-in has no network to score tokens with")


    def length_distribution(self, prefix: str, suffix: str) -> None:
        return None

    def infill_batch(
        self, pairs, *, length=None, cancel=None, accept=None, one_line=False, **sampler
    ):
        self.batches.append(len(pairs))
        out = []
        for p in pairs:
            r = p if isinstance(p, InfillRequest) else InfillRequest(p[0], p[1], one_line=one_line)
            out.append(
                self._next(
                    prefix=r.prefix,
                    suffix=r.suffix,
                    middle=r.middle,
                    strength=r.strength,
                    repair=r.repair,
                    one_line=r.one_line,
                    sampler=sampler,
                )
            )
        return out
