"""Loops (a short unit written again and again, as small models do): a middle the model
writes from nothing ends before the repeats, the backends that write left to right stop
there, and a given middle, a fixed length or `cut_loops=False` keep what was written."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from diffill.model import InfillRequest, evaluation
from diffill.model.backends.mdlm import Infiller
from diffill.model.checkpoint import Checkpoint
from diffill.model.requests import loop_free_length, loop_repeats, middle_text
from diffill.model.tokenizer import ByteTokens

from .conftest import base_tokenizer, four_backends, logits_nudged, tiny_model


class Pieces(ByteTokens):
    """A tokenizer that is only a table of token bytes."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._token_bytes = pieces
        self.vocab_size = len(pieces)


A, B, C, COMMA, TAB, NL, ZERO = range(7)
PIECES = Pieces([b"a", b"b", b"c", b", ", b"\t", b"\n", b"0"])


def test_a_loop_is_a_short_unit_three_times_running_and_one_copy_is_kept():
    t = PIECES
    # A two-token unit ("a, ") three times: the first copy stays.
    ids = [B, A, COMMA, A, COMMA, A, COMMA, C]
    assert loop_repeats(t, ids[:7]) == 4
    assert loop_repeats(t, ids[:6]) == 0  # two and a half copies: not yet a loop
    assert loop_free_length(t, ids) == 3
    assert middle_text(t, ids, one_line=False, cut_loops=True) == ("ba, ", 3)
    assert middle_text(t, ids, one_line=False) == ("ba, a, a, c", 8)
    # A one-token unit must come four times (three `)` close nested calls).
    assert loop_free_length(t, [C, A, A, A]) == 4
    assert loop_free_length(t, [C, A, A, A, A, B]) == 2
    # Units of more than eight tokens are not loops; units of whitespace (indentation) not.
    unit = [A, B, C, A, B, C, COMMA, ZERO, NL]
    assert loop_free_length(t, unit * 3) == 27
    assert loop_free_length(t, [NL, TAB, TAB, TAB, TAB, TAB, A]) == 7
    # The first loop decides, and `start` skips what was looked at before.
    ids = [A, A, A, A, B, C, B, C, B, C]
    assert loop_free_length(t, ids) == 1
    assert loop_free_length(t, ids, start=4) == 6


def test_a_loop_cut_comes_before_the_line_cut_either_way_round():
    t = PIECES
    assert middle_text(t, [A, A, A, A, NL, B], one_line=True, cut_loops=True) == ("a", 1)
    assert middle_text(t, [B, NL, A, A, A, A], one_line=True, cut_loops=True) == ("b", 1)


def writes_x(model, tok):
    """The network made to write `x` in every slot (left to right and block by block)."""
    x = tok.encode("x")[0]
    return logits_nudged(model, lambda out: out[..., x].add_(30.0))


class LoopingCanvas(Infiller):
    """The masked-diffusion model whose length head says 20 tokens and whose canvases
    start `y = x x x x x`."""

    def _length_probs(self, encoded, need):
        probs = torch.zeros(len(encoded.gaps), self.model.cfg.span_positions)
        probs[:, 20] = 1.0
        return probs

    def _denoise(self, encoded, rows, options, on_step, cancel):
        res = super()._denoise(encoded, rows, options, on_step, cancel)
        script = torch.tensor(self.tokenizer.encode("y =" + " x" * 8))
        tokens = res.tokens.clone()
        tokens[:, : len(script)] = script
        return dataclasses.replace(res, tokens=tokens)


def _backends():
    return four_backends(LoopingCanvas)


PREFIX, SUFFIX = "def f(x):\n    return ", "\n"


@pytest.mark.parametrize("name", list(_backends()))
def test_a_written_middle_ends_before_its_loop_and_left_to_right_decoding_stops(name):
    backend = _backends()[name]()
    tok = backend.tokenizer
    with writes_x(backend.model, tok):
        cut = backend.infill(PREFIX, SUFFIX)
    with writes_x(backend.model, tok):
        kept = backend.infill_batch([InfillRequest(PREFIX, SUFFIX, cut_loops=False)])[0]
    with writes_x(backend.model, tok):
        fixed = backend.infill(PREFIX, SUFFIX, length=12)
    # What was written loops; the cut keeps the text up to the unit's first copy.
    assert loop_free_length(tok, kept.tokens) < len(kept.tokens)
    assert cut.tokens == kept.tokens[: loop_free_length(tok, kept.tokens)]
    assert tok.decode(cut.tokens) == cut.text and kept.text.startswith(cut.text)
    assert cut.text.count("x") == 1
    assert len(cut.token_confidence) == len(cut.tokens)
    # A fixed length is honoured whatever the tokens.
    assert len(fixed.tokens) == 12 and fixed.text.count("x") > 3
    if name == "masked diffusion":  # one canvas filled at once: the same steps, cut
        assert cut.steps == kept.steps
    else:  # left to right: decoding stopped where the loop closed
        assert cut.steps < kept.steps
        assert len(kept.tokens) == 40


def test_a_touched_up_middle_keeps_the_users_repeats():
    tok = base_tokenizer()
    backend = Infiller(Checkpoint(tiny_model(tok.vocab_size, span_positions=48), tok))
    middle = "[" + "0, " * 8 + "0]"
    assert loop_free_length(tok, tok.encode(middle)) < len(tok.encode(middle))
    res = backend.infill("zeros = ", "\n", middle=middle, strength=0.1)
    # A tenth of the tokens written again; cut at the loop, at most two zeros would stay.
    assert res.text.count("0") >= 7


def test_evaluation_cuts_loops_unless_told_not_to():
    backend = _backends()["masked diffusion"]()
    task = evaluation.Task("s/0", "def f(x):\n    ", "\n", "y = x", kind="single_line")
    cut = evaluation.evaluate(backend, [task])
    kept = evaluation.evaluate(backend, [task], cut_loops=False)
    assert cut[0].completion == "y = x"
    assert kept[0].completion.startswith("y = x x x x")
    assert cut[0].exact and not kept[0].exact
