"""One-line requests (ghost text, single-line infilling): every backend answers with no
line break, the ones that write left to right stop decoding at the first, and the editor
and the evaluation ask for them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from diffill.model import InfillRequest, evaluation
from diffill.model.backends.mdlm import Infiller
from diffill.model.requests import cut_at_line_break
from diffill.model.tokenizer import ByteTokens
from diffill.server.document import Document
from diffill.server.editing import engine
from diffill.server.editing.parsed import ParsedDocument
from diffill.server.editing.request import EditRequest, Intent
from diffill.server.editing.targets import completion_request

from .conftest import four_backends, logits_nudged
from .scripted_model import ScriptedInfiller


class Pieces(ByteTokens):
    """A tokenizer that is only a table of token bytes (enough to cut texts with)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._token_bytes = pieces
        self.vocab_size = len(pieces)


def test_the_cut_keeps_the_text_before_the_break_and_counts_whole_tokens():
    t = Pieces([b"x = f(a", b"):\n", b"    y", b"\r\n", "é".encode()[:1], "é".encode()[1:]])
    assert t.line_break_ids == frozenset({1, 3})
    assert cut_at_line_break(t, [0, 1, 2]) == ("x = f(a):", 1)
    assert cut_at_line_break(t, [2, 3, 0]) == ("    y", 1)
    assert cut_at_line_break(t, [3, 0]) == ("", 0)
    # No break: everything, and a character split over two tokens is whole again.
    assert cut_at_line_break(t, [0, 4, 5]) == ("x = f(aé", 3)


@contextmanager
def writes_breaks(model, tok) -> Iterator[None]:
    """The network made to write `x` everywhere and a line break as its fourth token (one
    token a call, left to right) or in slot 3 of every block (a block a call): its middles
    hold a line and go on. One request a use (the count starts again)."""
    newline, x = tok.encode("\n")[0], tok.encode("x")[0]
    calls = 0

    def nudge(out):
        nonlocal calls
        out[..., x] += 30.0
        if out.dim() == 3 and out.shape[1] > 1:
            out[:, 3, newline] += 60.0
        else:
            calls += 1
            if calls == 4:
                out[..., newline] += 60.0

    with logits_nudged(model, nudge):
        yield


class ScriptedCanvas(Infiller):
    """The masked-diffusion model whose denoised canvases start with two lines of code:
    its cut happens after denoising, wherever the model put the break."""

    def _denoise(self, encoded, rows, options, on_step, cancel):
        res = super()._denoise(encoded, rows, options, on_step, cancel)
        script = torch.tensor(self.tokenizer.encode("a = 1\n    b = 2"))
        tokens = res.tokens.clone()
        tokens[:, : len(script)] = script
        return dataclasses.replace(res, tokens=tokens)


def _backends():
    return four_backends(ScriptedCanvas)


@pytest.mark.parametrize("name", list(_backends()))
def test_a_one_line_request_ends_at_the_first_line_break(name):
    backend = _backends()[name]()
    tok = backend.tokenizer
    prefix, suffix = "def f(x):\n    y = ", "\n    return y\n"
    with writes_breaks(backend.model, tok):
        free = backend.infill(prefix, suffix, length=24)
    with writes_breaks(backend.model, tok):
        line = backend.infill(prefix, suffix, length=24, one_line=True)
    with writes_breaks(backend.model, tok):
        batch = backend.infill_batch([(prefix, suffix)], length=24, one_line=True)[0]
    head = free.text.split("\n", 1)[0]
    # The free middle writes a line and goes on; the one-line middle is that line.
    assert head and free.text[len(head) + 1 :].strip()
    assert line.text == head == batch.text
    assert tok.decode(line.tokens) == line.text
    assert len(line.token_confidence) == len(line.tokens)
    if name == "masked diffusion":  # one canvas filled at once: the same steps, cut
        assert line.steps == free.steps
    else:  # left to right: decoding stopped at the line's end
        assert line.steps < free.steps


def test_evaluation_asks_single_line_tasks_for_one_line_unless_told_not_to():
    backend = _backends()["masked diffusion"]()
    single = evaluation.Task(
        "s/0", "def f(x):\n    y = ", "\n    return y\n", "x", kind="single_line"
    )
    multi = evaluation.Task(
        "m/0", "def f(x):\n    ", "\n", "y = x\n    return y", kind="multi_line"
    )
    cut = evaluation.evaluate(backend, [single, multi], length=12)
    free = evaluation.evaluate(backend, [single, multi], length=12, line_stop=False)
    asked = backend.infill_batch([InfillRequest(single.prompt, single.suffix, length=12)])
    assert cut[0].completion == "a = 1"
    assert "\n" in free[0].completion
    assert cut[0].completion == free[0].completion.split("\n", 1)[0]
    assert "\n" in asked[0].text  # a request is not one line unless it says so
    # A multi-line task is never cut.
    assert cut[1].completion == free[1].completion and "\n" in cut[1].completion


def test_inline_completion_mid_line_asks_the_model_for_one_line(tokenizer):
    doc = Document.from_text("def f(x):\n    return x + \n")
    parsed = ParsedDocument.parse(doc, engine.language_of("a.py", None))
    cursor = doc.text.index("+ ") + 2
    model = ScriptedInfiller(tokenizer, ["1\n    print(x)"])
    result = engine.edit(parsed, completion_request(parsed, cursor), model)
    assert model.requests[0]["one_line"] is True
    assert result.replacement == "1"
    # A fill of an empty block may write several lines: not one line.
    doc = Document.from_text("def f(x):\n    # TODO: double it\n")
    parsed = ParsedDocument.parse(doc, engine.language_of("a.py", None))
    model = ScriptedInfiller(tokenizer, ["return 2 * x"])
    at = doc.text.index("TODO")
    engine.edit(parsed, EditRequest(Intent.FILL, at, at), model)
    assert model.requests[0]["one_line"] is False
