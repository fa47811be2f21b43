"""How the denoising step runs (`backends.steps`): compiled and eager steps give the same
tokens, the fixed-shape step a CUDA graph replays sees exactly what the dynamic step sees
(checked on the CPU), CUDA graphs themselves (only where CUDA is), and where compiled
steps are kept on disk.

Compiling costs minutes of CPU on a small CI machine, so the two tests that compile run only
when asked: `pytest -m compile`, or DIFFILL_COMPILE_TESTS=1.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from diffill.model import DEFAULT_MODEL
from diffill.model.backends import steps as step_runners
from diffill.model.backends.blockdiff import BlockInfiller
from diffill.model.backends.mdlm import Infiller
from diffill.model.backends.steps import Steps, static_inputs
from diffill.model.backends.transformer import DiffusionLM, KVBuffer, config_for_size
from diffill.model.checkpoint import Checkpoint
from diffill.model.tokenizer import CodeTokenizer

from .conftest import tiny_model

PREFIX = (
    "def area(radius):\n    return 3.14 * radius ** 2\n\n" * 6 + "def perimeter(r):\n    return "
)
SUFFIX = "\n\nprint(perimeter(2.0))\n"


@pytest.fixture(scope="module")
def tok() -> CodeTokenizer:
    return CodeTokenizer.from_file(DEFAULT_MODEL / "tokenizer.json").with_fim_tokens()


COMPILE_ENV = "DIFFILL_COMPILE_TESTS"


@pytest.fixture
def compiling(request: pytest.FixtureRequest) -> None:
    asked = "compile" in (request.config.option.markexpr or "")
    if not asked and os.environ.get(COMPILE_ENV) != "1":
        pytest.skip(f"compiling runs only when asked: pytest -m compile, or {COMPILE_ENV}=1")


def block_model(tok: CodeTokenizer, device: str = "cpu") -> DiffusionLM:
    torch.manual_seed(0)
    cfg = dataclasses.replace(config_for_size("tiny", tok.vocab_size), length_head=False)
    return DiffusionLM(cfg).eval().to(device)


def block_infiller(model: DiffusionLM, tok: CodeTokenizer) -> BlockInfiller:
    layout = {"block_size": 8, "fim_order": "spm"}
    return BlockInfiller(
        Checkpoint(model, tok, layout=layout), max_context_tokens=256, max_span_tokens=24
    )


def test_static_inputs_say_which_slots_are_written_and_seen():
    index, mask = static_inputs(5, 3, 4, 12, torch.float32, "cpu")
    assert index.tolist() == [5, 6, 7, 8]  # the padding slot 8 is written, never seen
    assert mask.shape == (1, 1, 1, 12)
    assert (mask[0, 0, 0] == 0).tolist() == [True] * 8 + [False] * 4
    with pytest.raises(ValueError, match="does not fit"):
        static_inputs(10, 3, 4, 12, torch.float32, "cpu")
    with pytest.raises(ValueError, match="does not fit"):
        static_inputs(0, 5, 4, 12, torch.float32, "cpu")


def test_the_fixed_shape_step_sees_what_the_dynamic_step_sees(tok):
    """The shape bookkeeping of the CUDA-graph step, on the CPU: a block padded to the
    static width, written at tensor slots and attending to the whole buffer under the
    mask, gives the dynamic step's hidden states and leaves the same keys behind."""
    model = block_model(tok)
    cfg = model.cfg
    torch.manual_seed(1)
    context = torch.randint(10, 8000, (1, 30))
    dynamic = KVBuffer(cfg, 1, 64, torch.float32, "cpu")
    static = KVBuffer(cfg, 1, 64, torch.float32, "cpu")
    with torch.no_grad():
        for buf in (dynamic, static):
            model.hidden(context, torch.arange(30)[None], None, buf, 0, causal=True)
        at, width, static_width = 30, 6, 9  # the last, short block of a middle
        block = torch.randint(10, 8000, (1, width))
        positions = torch.arange(at - 1, at - 1 + width)[None]
        want, _ = model.hidden(block, positions, None, dynamic, at)
        padded = torch.cat((block, block[:, -1:].expand(1, static_width - width)), 1)
        padded_pos = torch.cat((positions, positions[:, -1:].expand(1, static_width - width)), 1)
        index, mask = static_inputs(at, width, static_width, 64, torch.float32, "cpu")
        got, _ = model.hidden(padded, padded_pos, mask, static, index)
    torch.testing.assert_close(got[:, :width], want, atol=1e-5, rtol=1e-5)
    for layer in range(cfg.n_layers):
        torch.testing.assert_close(
            static.k[layer][:, :, : at + width], dynamic.k[layer][:, :, : at + width]
        )


@pytest.mark.compile
def test_compiled_and_eager_block_steps_give_the_same_tokens(compiling, tok, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    monkeypatch.setenv(step_runners.COMPILE_ENV, "1")
    model = block_model(tok)
    eager = block_infiller(model, tok).infill(PREFIX, SUFFIX, length=12, seed=1)
    compiled = block_infiller(model, tok)
    compiled.warm_up()
    assert compiled.steps.mode == "compiled"
    got = compiled.infill(PREFIX, SUFFIX, length=12, seed=1)
    assert got.tokens == eager.tokens
    assert got.steps == eager.steps
    assert any((tmp_path / "inductor").iterdir())  # kernels kept for the next process


@pytest.mark.compile
def test_compiled_and_eager_canvas_steps_give_the_same_tokens(
    compiling, tokenizer, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    monkeypatch.setenv(step_runners.COMPILE_ENV, "1")
    model = tiny_model(tokenizer.vocab_size, span_positions=48)
    eager = Infiller(Checkpoint(model, tokenizer))
    compiled = Infiller(Checkpoint(model, tokenizer))
    compiled.warm_up()
    assert compiled.steps.mode == "compiled"
    for kw in ({"length": 7}, {"length_candidates": 2}):  # no mask; rows of two lengths
        a = eager.infill(PREFIX, SUFFIX, seed=2, **kw)
        b = compiled.infill(PREFIX, SUFFIX, seed=2, **kw)
        assert (a.tokens, a.steps, a.candidates) == (b.tokens, b.steps, b.candidates)


def test_compiled_steps_are_kept_under_the_diffill_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFILL_CACHE_DIR", str(tmp_path))
    assert step_runners.cache_dir() == tmp_path / "compile"
    monkeypatch.delenv("DIFFILL_CACHE_DIR")
    assert step_runners.cache_dir().parts[-3:] == (".cache", "diffill", "compile")


def test_a_cpu_step_stays_eager_unless_compiling_is_asked_for(tok, monkeypatch):
    monkeypatch.delenv(step_runners.COMPILE_ENV, raising=False)
    runner = Steps(block_model(tok))
    assert runner.prepare(block_width=8) == "eager"


def test_a_network_on_the_cpu_is_never_given_cuda_graphs(tok):
    runner = Steps(block_model(tok))
    assert runner.mode == "eager"
    assert runner.prepare(block_width=8) != "cuda-graphs"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_cuda_graph_steps_give_the_eager_tokens(tok):
    model = block_model(tok, "cuda")
    eager = block_infiller(model, tok)
    graphs = block_infiller(model, tok)
    graphs.warm_up()
    assert graphs.steps.mode == "cuda-graphs"
    for length in (12, 20):  # a short last block is padded to the graph's width
        a = eager.infill(PREFIX, SUFFIX, length=length, seed=3)
        b = graphs.infill(PREFIX, SUFFIX, length=length, seed=3)
        assert (a.tokens, a.steps) == (b.tokens, b.steps)
