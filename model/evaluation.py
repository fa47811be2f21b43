"""Infilling evaluation: tasks from a JSONL file or built from held-out source files, scored
by exact match, edit similarity, parse rate, length-head accuracy and, where a task has a
test, pass@1 in a sandboxed subprocess.

Task format (one JSON object per line): {task_id, prompt, suffix, canonical_solution,
test?, entry_point?}; prompt is the code before the gap, suffix the code after, and
canonical_solution the hidden middle.
"""

from __future__ import annotations

import difflib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import tree_sitter

from .backend import Backend, InfillRequest
from .training.corpus import HELDOUT, Corpus, is_corpus
from .training.sources import read_sources
from .training.spans import parse_python

KINDS = ("single_line", "multi_line", "random_span")
T = TypeVar("T")
TEST_SECONDS = 10
TEST_MEMORY_BYTES = 1 << 30


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str
    suffix: str
    canonical_solution: str
    test: str | None = None
    entry_point: str | None = None
    kind: str = "tasks"


def read_tasks(path: str | Path) -> list[Task]:
    """Tasks from a JSONL file; a malformed line is an error naming the line."""
    tasks = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                tasks.append(
                    Task(
                        task_id=str(obj["task_id"]),
                        prompt=obj["prompt"],
                        suffix=obj.get("suffix", ""),
                        canonical_solution=obj["canonical_solution"],
                        test=obj.get("test"),
                        entry_point=obj.get("entry_point"),
                        kind=obj.get("kind", "tasks"),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{n}: not a task ({err!r})") from None
    return tasks


def write_tasks(tasks: list[Task], path: str | Path) -> None:
    """Save tasks as JSONL in the format `read_tasks` reads."""
    with open(path, "w", encoding="utf-8") as f:
        for t in tasks:
            row = {k: v for k, v in asdict(t).items() if v is not None}
            f.write(json.dumps(row) + "\n")


def corpus_tasks(
    roots: Iterable[str | os.PathLike[str]], per_kind: int = 100, seed: int = 0
) -> list[Task]:
    """Single-line, multi-line and random-span tasks from the held-out files of `roots`,
    the same for the same seed and files."""
    roots = list(roots)
    if len(roots) == 1 and is_corpus(roots[0]):
        files = list(Corpus(roots[0]).texts(HELDOUT))
    else:
        files = read_sources(roots, "heldout")
    if not files:
        raise ValueError("no held-out Python files under the given folders")
    rng = random.Random(seed)
    tasks: list[Task] = []
    for kind in KINDS:
        made = 0
        tries = 0
        while made < per_kind and tries < per_kind * 50:
            tries += 1
            _, text = rng.choice(files)
            span = _pick_span(text, kind, rng)
            if span is None:
                continue
            a, b = span
            middle = text[a:b]
            prompt, suffix = text[:a], text[b:]
            # Keep tasks a size the model's context takes whole, as in use.
            prompt, suffix = prompt[-4000:], suffix[:2000]
            tasks.append(Task(f"{kind}/{made}", prompt, suffix, middle, kind=kind))
            made += 1
    return tasks


def _pick_span(text: str, kind: str, rng: random.Random) -> tuple[int, int] | None:
    lines = text.splitlines(keepends=True)
    if len(lines) < 3:
        return None
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    if kind == "random_span":
        a = rng.randrange(len(text))
        b = min(len(text), a + rng.randint(3, 60))
        return (a, b) if text[a:b].strip() else None
    i = rng.randrange(len(lines))
    n = 1 if kind == "single_line" else rng.randint(2, 6)
    if i + n > len(lines):
        return None
    block = lines[i : i + n]
    first = block[0]
    if not first.strip() or first.strip().startswith("#") or any(len(x) > 200 for x in block):
        return None
    indent = len(first) - len(first.lstrip(" \t"))
    a = starts[i] + indent
    b = starts[i + n] - (1 if block[-1].endswith("\n") else 0)
    if kind == "multi_line" and sum(1 for x in block if x.strip()) < 2:
        return None
    return a, b


def _errors(source: str) -> int:
    tree = parse_python(source.encode("utf-8"))
    count = 0
    stack: list[tree_sitter.Node] = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
            continue
        if node.has_error:
            stack.extend(node.children)
    return count


def _program(t: Task, completion: str) -> str | None:
    """The program that checks `completion` for task `t`, or None when it has no test."""
    if t.test is None:
        return None
    program = t.prompt + completion + t.suffix + "\n\n" + t.test
    if t.entry_point:
        program += f"\n\ncheck({t.entry_point})\n"
    return program


def run_test(program: str, timeout: float = TEST_SECONDS) -> bool:
    """Run `program` in a fresh interpreter, in a temporary folder, with time and memory
    limits and, where `unshare` allows, no network. True when it exits 0."""
    with tempfile.TemporaryDirectory(prefix="diffill-eval-") as tmp:
        path = Path(tmp) / "task.py"
        path.write_text(program, encoding="utf-8")
        cmd = [sys.executable, "-I", str(path)]
        if shutil.which("unshare") and _unshare_works():
            cmd = ["unshare", "--net", "--map-root-user", *cmd]

        def limit() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (TEST_MEMORY_BYTES, TEST_MEMORY_BYTES))

        try:
            run = subprocess.run(
                cmd,
                cwd=tmp,
                capture_output=True,
                timeout=timeout,
                preexec_fn=limit,
                env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        return run.returncode == 0


_UNSHARE_OK: bool | None = None


def _unshare_works() -> bool:
    global _UNSHARE_OK
    if _UNSHARE_OK is None:
        try:
            probe = subprocess.run(
                ["unshare", "--net", "--map-root-user", "true"],
                capture_output=True,
                timeout=10,
                check=False,
            )
            _UNSHARE_OK = probe.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _UNSHARE_OK = False
    return _UNSHARE_OK


@dataclass
class TaskResult:
    task_id: str
    kind: str
    completion: str
    exact: bool
    similarity: float
    parses: bool
    passed: bool | None
    true_tokens: int
    predicted_length: int | None
    steps: int
    seconds: float
    tokens: int = 0  # generated


def evaluate(
    backend: Backend,
    tasks: list[Task],
    batch_size: int = 8,
    length: int | None = None,
    line_stop: bool = True,
    cut_loops: bool = True,
    **sampler_options,
) -> list[TaskResult]:
    """Infill every task (in batches) and score it; the length head is scored where the
    backend has one and chooses the length.

    line_stop: ask single-line tasks as one-line requests, the single-line protocol (the
    middle ends at the line's end; an editor asks ghost text the same way); False lets
    the model write past it, as reports before 2026-12-07 measured.
    cut_loops: every middle ends before its first loop's repeats, as the backends answer
    by default (`InfillRequest.cut_loops`); False scores what the model wrote, as reports
    before the third 2026-12-07 session measured."""
    results: list[TaskResult] = []
    # Tests run in parallel subprocesses (they wait on interpreters, not on this one).
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for i in range(0, len(tasks), batch_size):
            chunk = tasks[i : i + batch_size]
            requests = [
                InfillRequest(
                    t.prompt,
                    t.suffix,
                    length=length,
                    one_line=line_stop and t.kind == "single_line",
                    cut_loops=cut_loops,
                )
                for t in chunk
            ]
            outs = backend.infill_batch(requests, **sampler_options)
            programs = [_program(t, r.text) for t, r in zip(chunk, outs)]
            verdicts = list(pool.map(lambda p: None if p is None else run_test(p), programs))
            for t, r, passed in zip(chunk, outs, verdicts):
                predicted = None
                if length is None:
                    lengths = backend.length_distribution(t.prompt, t.suffix)
                    predicted = None if lengths is None else int(lengths.argmax())
                expected = t.canonical_solution
                reference_errors = _errors(t.prompt + expected + t.suffix)
                results.append(
                    TaskResult(
                        task_id=t.task_id,
                        kind=t.kind,
                        completion=r.text,
                        exact=r.text.rstrip() == expected.rstrip(),
                        similarity=difflib.SequenceMatcher(None, r.text, expected).ratio(),
                        parses=_errors(t.prompt + r.text + t.suffix) <= reference_errors,
                        passed=passed,
                        true_tokens=backend.count_tokens(expected),
                        predicted_length=predicted,
                        steps=r.steps,
                        seconds=r.seconds / len(chunk),
                        tokens=len(r.tokens),
                    )
                )
    return results


def summarize(results: list[TaskResult]) -> dict[str, dict]:
    """Per-kind and overall figures."""
    groups: dict[str, list[TaskResult]] = {}
    for r in results:
        groups.setdefault(r.kind, []).append(r)
    if len(groups) > 1:
        groups["all"] = results
    out = {}
    for kind, rs in groups.items():
        n = len(rs)
        gaps = [(r.predicted_length, r.true_tokens) for r in rs if r.predicted_length is not None]
        tested = [r for r in rs if r.passed is not None]
        out[kind] = {
            "tasks": n,
            "exact_match": round(sum(r.exact for r in rs) / n, 4),
            "edit_similarity": round(sum(r.similarity for r in rs) / n, 4),
            "parse_rate": round(sum(r.parses for r in rs) / n, 4),
            "pass_at_1": round(sum(bool(r.passed) for r in tested) / len(tested), 4)
            if tested
            else None,
            "length_acc_exact": _share(gaps, lambda g: g[0] == g[1]),
            "length_acc_within_2": _share(gaps, lambda g: abs(g[0] - g[1]) <= 2),
            "mean_steps": round(sum(r.steps for r in rs) / n, 2),
            # Denoising model calls per generated token (1 for one token per call).
            "calls_per_token": round(
                sum(r.steps for r in rs) / max(1, sum(r.tokens for r in rs)), 3
            ),
            "mean_seconds": round(sum(r.seconds for r in rs) / n, 4),
        }
    return out


def report(results: list[TaskResult], meta: dict) -> dict:
    return {**meta, "summary": summarize(results), "results": [asdict(r) for r in results]}


def length_head_report(
    predicted: list[TaskResult], fixed: list[TaskResult], fixed_length: int
) -> dict:
    """The length head on its own: how often it names the true span length (exactly, and
    within 2 tokens), and the exact match (and pass rate, where tests exist) it buys over
    decoding the same tasks on a fixed canvas, in which unused slots become padding."""
    by_kind: dict[str, list[tuple[TaskResult, TaskResult]]] = {}
    for p, f in zip(predicted, fixed):
        by_kind.setdefault(p.kind, []).append((p, f))
    if len(by_kind) > 1:
        by_kind["all"] = list(zip(predicted, fixed))
    sets = {}
    for kind, pairs in by_kind.items():
        n = len(pairs)
        gaps = [
            (p.predicted_length, p.true_tokens) for p, _ in pairs if p.predicted_length is not None
        ]
        tested = [(p, f) for p, f in pairs if p.passed is not None]
        exact_predicted = round(sum(p.exact for p, _ in pairs) / n, 4)
        exact_fixed = round(sum(f.exact for _, f in pairs) / n, 4)
        row: dict[str, float | None] = {
            "tasks": n,
            "within_0": _share(gaps, lambda g: g[0] == g[1]),
            "within_2": _share(gaps, lambda g: abs(g[0] - g[1]) <= 2),
            "exact_predicted": exact_predicted,
            "exact_fixed": exact_fixed,
            "gain": round(exact_predicted - exact_fixed, 4),
        }
        if tested:
            pass_predicted = round(sum(bool(p.passed) for p, _ in tested) / len(tested), 4)
            pass_fixed = round(sum(bool(f.passed) for _, f in tested) / len(tested), 4)
            row["pass_predicted"] = pass_predicted
            row["pass_fixed"] = pass_fixed
            row["pass_gain"] = round(pass_predicted - pass_fixed, 4)
        sets[kind] = row
    return {"fixed_length": fixed_length, "sets": sets}


def _share(items: list[T], test: Callable[[T], bool]) -> float | None:
    """The share of `items` that pass `test` (4 decimals), or None for no items."""
    return round(sum(1 for x in items if test(x)) / len(items), 4) if items else None


@dataclass(frozen=True)
class ShipVerdict:
    """Whether a candidate model replaces the shipped default, and why."""

    ships: bool
    exact_gained: int
    reasons: tuple[str, ...]


def ship_verdict(shipped: dict[str, dict], candidate: dict[str, dict]) -> ShipVerdict:
    """The ship rule of the cumulative run, from each held-out set's single-line summary
    (`summarize(...)["single_line"]`, keyed by set name, the same sets on both sides).

    A candidate ships when no set is worse (fewer exact matches, a lower edit similarity,
    a lower pass@1 where the set has tests) and it gains something: exact matches over the
    sets, or a higher edit similarity on every set. The second way exists because the
    shipped model writes no line exactly: a rule that asked for exact matches alone would
    keep every leg that writes better lines but not yet whole ones off the shipped lineage,
    and with it the only state that outlives a machine.
    """
    if set(shipped) != set(candidate) or not shipped:
        raise ValueError(
            "the two models were scored on different sets: "
            f"{sorted(shipped)} and {sorted(candidate)}"
        )
    reasons = []
    gained = 0
    higher = 0
    for name in sorted(shipped):
        s, c = shipped[name], candidate[name]
        if s["tasks"] != c["tasks"]:
            raise ValueError(f"set {name}: {s['tasks']} tasks against {c['tasks']}")
        d = round((c["exact_match"] - s["exact_match"]) * c["tasks"])
        gained += d
        if d < 0:
            reasons.append(f"{name}: {-d} fewer exact matches")
        if c["edit_similarity"] < s["edit_similarity"]:
            reasons.append(
                f"{name}: edit similarity {c['edit_similarity']:.3f} < {s['edit_similarity']:.3f}"
            )
        higher += c["edit_similarity"] > s["edit_similarity"]
        passed = c.get("pass_at_1") or 0.0  # a candidate with no test results passed none
        if s.get("pass_at_1") is not None and passed < s["pass_at_1"]:
            reasons.append(f"{name}: pass@1 {passed:.1%} < {s['pass_at_1']:.1%}")
    if not reasons and gained <= 0 and higher < len(shipped):
        reasons.append("no gain: no exact match gained and edit similarity not higher on every set")
    return ShipVerdict(ships=not reasons, exact_gained=gained, reasons=tuple(reasons))
