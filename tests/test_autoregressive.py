"""The autoregressive peer: FIM examples, causal training loss, cached greedy decoding, its
checkpoint type, and training and evaluating it through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from diffill.model import CheckpointError, checkpoint, evaluation, load
from diffill.model.backends.autoregressive import ARInfiller, sentinels
from diffill.model.checkpoint import Checkpoint
from diffill.model.training.corpus import TRAIN, build
from diffill.model.training.fim import causal_loss, collate, fim_example
from diffill.model.training.stream import ExampleStream
from diffill.server import cli

from .conftest import tiny_model

STDLIB = Path(shutil.__file__).parent


def test_fim_example_is_prefix_suffix_middle(tokenizer):
    suffix_id, middle_id, end_id = sentinels(tokenizer)
    text = "def f(x):\n    return x + 1\n"
    a, b = text.index("return"), text.index("\n", text.index("return"))
    seq = fim_example(tokenizer, text, (a, b), True, True, 200)
    assert seq[0] == tokenizer.bof_id and seq[-1] == end_id
    s, m = seq.index(suffix_id), seq.index(middle_id)
    assert s < m
    assert tokenizer.decode(seq[1:s]) == text[:a]
    assert seq[m - 1] == tokenizer.eof_id
    assert tokenizer.decode(seq[s + 1 : m - 1]) == text[b:]
    assert tokenizer.decode(seq[m + 1 : -1]) == "return x + 1"


def test_fim_example_keeps_the_tokens_next_to_the_gap(tokenizer):
    text = "".join(f"line_{i} = {i}\n" for i in range(200))
    a = text.index("line_100")
    b = text.index("\n", a)
    seq = fim_example(tokenizer, text, (a, b), True, True, 120)
    assert len(seq) <= 120
    suffix_id, middle_id, _ = sentinels(tokenizer)
    prefix = tokenizer.decode(seq[: seq.index(suffix_id)])
    suffix = tokenizer.decode(seq[seq.index(suffix_id) + 1 : seq.index(middle_id)])
    assert prefix.endswith("line_99 = 99\n") and suffix.startswith("\nline_101 = 101")
    assert fim_example(tokenizer, text, (0, len(text)), True, True, 120) is None


def test_collate_shifts_targets_and_marks_the_middle(tokenizer):
    _, middle_id, end_id = sentinels(tokenizer)
    seqs = [[5, 6, middle_id, 7, 8, end_id], [9, 10, 11]]
    b = collate(seqs, tokenizer)
    assert b.inputs[0].tolist() == [5, 6, middle_id, 7, 8]
    assert b.targets[0].tolist() == [6, middle_id, 7, 8, end_id]
    assert b.middle[0].tolist() == [False, False, True, True, True]
    assert b.targets[1].tolist() == [10, 11, -100, -100, -100]
    assert not b.middle[1].any()


def causal(tokenizer, seed=0):
    return tiny_model(tokenizer.vocab_size, seed=seed, causal=True)


def test_causal_model_does_not_look_ahead(tokenizer):
    model = causal(tokenizer)
    x = torch.randint(10, 200, (1, 12))
    y = x.clone()
    y[0, 8:] = 7
    pos = torch.arange(12)[None]
    with torch.no_grad():
        hx, _ = model.hidden(x, pos)
        hy, _ = model.hidden(y, pos)
    assert torch.allclose(hx[0, :8], hy[0, :8], atol=1e-5)
    assert not torch.allclose(hx[0, 8:], hy[0, 8:], atol=1e-3)


def test_cached_decoding_equals_full_recomputation(tokenizer):
    peer = ARInfiller(Checkpoint(causal(tokenizer), tokenizer))
    prefix, suffix = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"
    got = peer.infill(prefix, suffix, length=10, min_new_tokens=10)
    seq = peer.prompt(prefix, suffix)
    want = []
    with torch.no_grad():
        for _ in range(10):
            h, _ = peer.model.hidden(torch.tensor([seq]), torch.arange(len(seq))[None])
            logits = peer.model.token_logits(h[0, -1]).float()
            logits[peer.forbidden] = float("-inf")
            if len(want) < 10:
                logits[peer.end_id] = float("-inf")
            want.append(int(logits.argmax()))
            seq.append(want[-1])
    assert len(got.tokens) == got.length == 10 and got.text == tokenizer.decode(want)
    assert got.steps == 9  # the prompt call yields the first token


def test_loss_falls_when_overfitting(tokenizer):
    torch.manual_seed(0)
    model = causal(tokenizer).train()
    text = "def add(a, b):\n    return a + b\n"
    seq = fim_example(tokenizer, text, (19, 31), True, True, 100)
    batch = collate([seq] * 4, tokenizer)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss, stats = causal_loss(model, batch)
        first = first or float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first / 2 and "middle_ce" in stats


def test_checkpoint_types_are_not_confused(tmp_path, tokenizer):
    checkpoint.save(tmp_path / "ar", causal(tokenizer), tokenizer)
    checkpoint.save(tmp_path / "diff", tiny_model(tokenizer.vocab_size), tokenizer)
    assert json.loads((tmp_path / "ar/config.json").read_text())["model_type"] == "diffill-fim-ar"
    with pytest.raises(CheckpointError, match="diffill-fim-ar"):
        checkpoint.load(tmp_path / "ar")
    with pytest.raises(CheckpointError, match="diffill-mdlm"):
        checkpoint.load(tmp_path / "diff", model_type=checkpoint.AR_MODEL_TYPE)
    peer = load(tmp_path / "ar")
    assert isinstance(peer, ARInfiller) and peer.model.cfg.causal


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, tokenizer):
    src = tmp_path_factory.mktemp("src")
    for name in ("textwrap.py", "shlex.py", "fnmatch.py", "glob.py"):
        shutil.copy(STDLIB / name, src / name)
    return build([src], tmp_path_factory.mktemp("corpus"), tokenizer, workers=1, log=lambda s: 0)


def test_both_streams_draw_the_same_windows(small_corpus, tokenizer):
    args = dict(corpus=small_corpus, split=TRAIN, tok=tokenizer, span_positions=64)
    diff = ExampleStream(**args, seq_tokens=128, seed=3, plain_share=0.0)
    ar = ExampleStream(**args, seq_tokens=128, seed=3, plain_share=0.0, objective="fim-ar")
    _, middle_id, _ = sentinels(tokenizer)
    for _ in range(5):
        d, a = diff.example(), ar.example()
        assert d.canvas.count(True) > 0
        assert middle_id in a


def test_train_peer_with_worker_processes_then_evaluate_it(small_corpus, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(
        [
            "train",
            "--corpus",
            str(small_corpus.folder),
            "--out",
            str(out),
            "--objective",
            "fim-ar",
            "--size",
            "tiny",
            "--steps",
            "3",
            "--batch-size",
            "2",
            "--seq-tokens",
            "96",
            "--workers",
            "1",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["objective"] == "fim-ar" and log[-1]["steps"] == 3
    tasks = tmp_path / "tasks.jsonl"
    evaluation.write_tasks(
        [evaluation.Task("t/0", "def f():\n    return ", "\n", "1", kind="single_line")], tasks
    )
    capsys.readouterr()
    report = tmp_path / "report.json"
    code = cli.main(
        ["eval", "--tasks", str(tasks), "--model", str(out / "model"), "--json", str(report)]
    )
    assert code == 0
    rep = json.loads(report.read_text())
    assert rep["model_type"] == "diffill-fim-ar"
    assert rep["summary"]["single_line"]["tasks"] == 1
    assert rep["summary"]["single_line"]["length_acc_exact"] is None  # no length head
