"""The execution-checked task set bench/tasks/exec_tasks.jsonl: it reads as diffill eval
reads it, every canonical solution passes, completions that leave the line out fail, and
bench/tasks/make_exec_tasks.py regenerates it byte for byte."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.tasks import make_exec_tasks
from diffill.model import evaluation

from .scripted_model import ScriptedInfiller

TASKS = make_exec_tasks.OUT


@pytest.fixture(scope="module")
def tasks() -> list[evaluation.Task]:
    return evaluation.read_tasks(TASKS)


def test_the_set_is_well_formed(tasks):
    ids = [t.task_id for t in tasks]
    assert len(ids) == len(set(ids))
    kinds = Counter(t.kind for t in tasks)
    assert set(kinds) == {"single_line", "multi_line"}
    assert kinds["single_line"] >= 150
    problems = {path.stem for path in make_exec_tasks.PROBLEMS.glob("*.py")}
    assert len(problems) >= 60
    bodies = [t.task_id for t in tasks if t.kind == "multi_line"]
    assert sorted(bodies) == sorted(f"exec/{name}/body" for name in problems)
    for t in tasks:
        assert t.test and t.test.startswith("def check(candidate):")
        assert t.entry_point and t.entry_point.isidentifier()
        assert t.canonical_solution.strip() == t.canonical_solution
        if t.kind == "single_line":
            assert "\n" not in t.canonical_solution
            assert t.prompt.rsplit("\n", 1)[-1].strip(" ") == ""  # the indentation stays
            assert t.suffix.startswith("\n")
    # Every task of a problem hides a piece of the same code: the module up to `check`.
    code: dict[str, set[str]] = {}
    for t in tasks:
        code.setdefault(t.task_id.split("/")[1], set()).add(
            t.prompt + t.canonical_solution + t.suffix
        )
    for name, texts in code.items():
        assert len(texts) == 1, name
        text = texts.pop()
        assert "def check(" not in text and "ENTRY_POINT" not in text
        source = (make_exec_tasks.PROBLEMS / f"{name}.py").read_text(encoding="utf-8")
        assert source.startswith(text.rstrip())


def test_every_canonical_solution_passes(tasks):
    programs = [make_exec_tasks.program(t, t.canonical_solution) for t in tasks]
    passed = make_exec_tasks.run_programs(programs)
    assert [t.task_id for t, ok in zip(tasks, passed) if not ok] == []


def test_completions_that_leave_the_line_out_fail(tasks):
    sample = tasks[::5]
    runs = [(t, c) for t in sample for c in ("", "pass")]
    passed = make_exec_tasks.run_programs([make_exec_tasks.program(t, c) for t, c in runs])
    assert [(t.task_id, c) for (t, c), ok in zip(runs, passed) if ok] == []


def test_diffill_eval_runs_the_tasks_as_composed_here(tokenizer, tasks):
    # The same program through evaluation.evaluate and its sandbox: the canonical
    # solution passes and an empty completion fails.
    sample = [t for t in tasks if t.kind == "multi_line"][:2] + tasks[:2]
    outputs = [t.canonical_solution for t in sample] + [""] * len(sample)
    model = ScriptedInfiller(tokenizer, outputs)
    results = evaluation.evaluate(model, sample + sample, length=8)
    assert [r.passed for r in results] == [True] * len(sample) + [False] * len(sample)
    assert all(r.exact for r in results[: len(sample)])


def test_regenerating_reproduces_the_committed_file(tmp_path):
    out = tmp_path / "exec_tasks.jsonl"
    report = make_exec_tasks.make(out)
    assert out.read_bytes() == TASKS.read_bytes()
    assert sum(report.kept.values()) == len(evaluation.read_tasks(TASKS))
