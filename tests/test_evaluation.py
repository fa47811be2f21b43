from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from diffill.model import evaluation
from diffill.model.training.sources import is_heldout
from diffill.server import cli
from diffill.server.cli import model_commands

from .scripted_model import ScriptedInfiller

STDLIB = Path(shutil.__file__).parent


def test_read_tasks_and_clear_errors(tmp_path):
    good = {
        "task_id": "t1",
        "prompt": "def f():\n    return ",
        "suffix": "\n",
        "canonical_solution": "1",
    }
    p = tmp_path / "tasks.jsonl"
    p.write_text(json.dumps(good) + "\n\n" + json.dumps({"task_id": "t2"}) + "\n")
    with pytest.raises(ValueError, match=r"tasks\.jsonl:3"):
        evaluation.read_tasks(p)
    p.write_text(json.dumps(good) + "\n")
    assert evaluation.read_tasks(p)[0].canonical_solution == "1"


def heldout_corpus(tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    n = 0
    for src in sorted(STDLIB.glob("*.py")):
        text = src.read_text("utf-8", "replace")
        if is_heldout(text) and len(text) < 60_000:
            shutil.copy(src, corpus / src.name)
            n += 1
        if n == 3:
            break
    assert n, "the standard library has held-out files"
    return corpus


def test_corpus_tasks_are_fixed_by_seed(tmp_path):
    corpus = heldout_corpus(tmp_path)
    a = evaluation.corpus_tasks([corpus], per_kind=5, seed=1)
    b = evaluation.corpus_tasks([corpus], per_kind=5, seed=1)
    c = evaluation.corpus_tasks([corpus], per_kind=5, seed=2)
    assert a == b and a != c
    assert {t.kind for t in a} == set(evaluation.KINDS)
    single = [t for t in a if t.kind == "single_line"]
    assert all("\n" not in t.canonical_solution for t in single)


def test_scores(tokenizer):
    tasks = [
        evaluation.Task("a", "def f():\n    return ", "\n", "1"),
        evaluation.Task("b", "x = ", "\n", "2"),
    ]
    model = ScriptedInfiller(tokenizer, ["1", "(("])
    results = evaluation.evaluate(model, tasks, length=4)
    s = evaluation.summarize(results)["tasks"]
    assert s["exact_match"] == 0.5 and s["parse_rate"] == 0.5
    assert s["length_acc_exact"] is None


def test_pass_at_1_runs_the_test_in_a_sandbox():
    assert evaluation.run_test("assert 1 + 1 == 2\n")
    assert not evaluation.run_test("assert 1 + 1 == 3\n")
    assert not evaluation.run_test("while True:\n    pass\n", timeout=1)
    assert not evaluation.run_test("x = bytearray(4 << 30)\n")


def test_eval_command_on_a_corpus(tmp_path, infiller, monkeypatch, capsys):
    corpus = heldout_corpus(tmp_path)
    monkeypatch.setattr(model_commands, "load_backend", lambda args, **limits: infiller)
    out = tmp_path / "eval.json"
    code = cli.main(
        ["eval", "--corpus", str(corpus), "--n", "2", "--json", str(out), "--steps", "4"]
    )
    assert code == 0
    rep = json.loads(out.read_text())
    assert set(rep["summary"]) == {*evaluation.KINDS, "all"}
    assert rep["summary"]["all"]["tasks"] == 6
    assert rep["summary"]["all"]["length_acc_within_2"] is not None
    assert "exact" in capsys.readouterr().out


def test_length_head_report_against_a_fixed_canvas(tmp_path, infiller, monkeypatch, capsys):
    corpus = heldout_corpus(tmp_path)
    monkeypatch.setattr(model_commands, "load_backend", lambda args, **limits: infiller)
    out, saved = tmp_path / "eval.json", tmp_path / "tasks.jsonl"
    argv = ["eval", "--corpus", str(corpus), "--n", "2", "--json", str(out), "--steps", "2"]
    code = cli.main([*argv, "--fixed-length", "3", "--write-tasks", str(saved)])
    assert code == 0
    rep = json.loads(out.read_text())
    head = rep["length_head"]
    assert head["fixed_length"] == 3
    row = head["sets"]["all"]
    assert row["tasks"] == 6
    assert row["within_0"] <= row["within_2"] <= 1
    assert row["gain"] == round(row["exact_predicted"] - row["exact_fixed"], 4)
    assert "length head" in capsys.readouterr().out
    # The saved tasks are the same tasks: running them again gives the same figures.
    again = tmp_path / "again.json"
    assert cli.main(["eval", "--tasks", str(saved), "--json", str(again), "--steps", "2"]) == 0

    def scores(summary):
        return {
            k: {m: v for m, v in row.items() if m != "mean_seconds"} for k, row in summary.items()
        }

    assert scores(json.loads(again.read_text())["summary"]) == scores(rep["summary"])


def test_length_head_report_counts_pass_rates_where_tests_exist():
    def result(kind, exact, passed, predicted, true):
        return evaluation.TaskResult(
            "t", kind, "", exact, 1.0, True, passed, true, predicted, 1, 0.0
        )

    predicted = [result("a", True, True, 5, 5), result("a", False, False, 9, 5)]
    fixed = [result("a", False, True, None, 5), result("a", False, False, None, 5)]
    row = evaluation.length_head_report(predicted, fixed, 16)["sets"]["a"]
    assert row == {
        "tasks": 2,
        "within_0": 0.5,
        "within_2": 0.5,
        "exact_predicted": 0.5,
        "exact_fixed": 0.0,
        "gain": 0.5,
        "pass_predicted": 0.5,
        "pass_fixed": 0.5,
        "pass_gain": 0.0,
    }


def _sets(*rows: tuple[float, float, float | None]) -> dict[str, dict]:
    """Single-line summaries of 50-task sets, from (exact, edit similarity, pass@1)."""
    names = ("local", "device", "exec")
    return {
        n: {"tasks": 50, "exact_match": e, "edit_similarity": s, "pass_at_1": p}
        for n, (e, s, p) in zip(names, rows)
    }


def test_ship_verdict_takes_better_lines_or_more_exact_ones_but_never_a_worse_set():
    v1 = _sets((0.0, 0.226, None), (0.0, 0.261, None), (0.0, 0.238, 0.0))
    # Higher edit similarity on every set, no exact match on either side: it ships.
    better = evaluation.ship_verdict(
        v1, _sets((0.0, 0.25, None), (0.0, 0.28, None), (0.0, 0.24, 0.0))
    )
    assert better.ships and better.exact_gained == 0
    # The fourth leg of docs/training.md: higher on two sets, 0.002 lower on exec.
    leg = evaluation.ship_verdict(
        v1, _sets((0.0, 0.227, None), (0.0, 0.277, None), (0.0, 0.236, 0.0))
    )
    assert not leg.ships and leg.reasons == ("exec: edit similarity 0.236 < 0.238",)
    # An exact match gained ships even where one set's similarity ties.
    exact = evaluation.ship_verdict(
        v1, _sets((0.02, 0.226, None), (0.0, 0.27, None), (0.0, 0.24, 0.0))
    )
    assert exact.ships and exact.exact_gained == 1
    # An identical model gains nothing.
    same = evaluation.ship_verdict(v1, v1)
    assert not same.ships and "no gain" in same.reasons[0]
    # More exact matches on one set do not buy a set that loses them, or a lower pass@1.
    traded = evaluation.ship_verdict(
        _sets((0.02, 0.2, None), (0.0, 0.2, None), (0.0, 0.2, 0.1)),
        _sets((0.0, 0.3, None), (0.06, 0.3, None), (0.0, 0.3, 0.0)),
    )
    assert not traded.ships and traded.exact_gained == 2
    assert traded.reasons == ("exec: pass@1 0.0% < 10.0%", "local: 1 fewer exact matches")


def test_ship_verdict_refuses_figures_from_different_sets():
    v1 = _sets((0.0, 0.2, None), (0.0, 0.2, None), (0.0, 0.2, 0.0))
    with pytest.raises(ValueError, match="different sets"):
        evaluation.ship_verdict(v1, {k: v for k, v in v1.items() if k != "exec"})
    with pytest.raises(ValueError, match="50 tasks against 49"):
        evaluation.ship_verdict(v1, {**v1, "local": {**v1["local"], "tasks": 49}})
