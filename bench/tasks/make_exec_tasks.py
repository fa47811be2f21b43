"""Build the execution-checked infilling set bench/tasks/exec_tasks.jsonl from the problems
in bench/tasks/problems.

Each problem is a module: the code under test (one or two functions, or a small class),
then `def check(candidate)` with the asserts, then `ENTRY_POINT = "name"`. From it come

* `single_line` tasks: one per body line that holds a statement worth predicting, the
  line's text after its indentation being the hidden middle. Left out: docstrings,
  comments, `pass`, bare `else:` / `try:` / `finally:` / `case _:`, and any line that is
  not one whole statement or one whole block header (a statement spread over lines, `;`,
  a trailing comment);
* one `multi_line` task: the body of the entry point after its docstring (for a class,
  of its longest method other than `__init__`, the first of them on a tie).

Prompt + middle + suffix is the module text before `check`; `test` is the source of
`check`; ids are `exec/<problem>/<line>` (the line's number in the problem file) and
`exec/<problem>/body`.

Every task's canonical composition must pass. A task that also passes with a completion
that leaves its line out (nothing, or `pass`; for an `if`/`elif`/`while` header also the
keyword with a constant condition) measures nothing, so it is dropped and reported.

    python -m bench.tasks.make_exec_tasks [--problems DIR] [--out FILE]
                                          [--no-sandbox-check | --thorough]

These decisions run the programs in a few worker interpreters, each program in a fresh
namespace under a limit of TIMEOUT_SECONDS of CPU time. Then every kept task's canonical
composition is run once more through `diffill.model.evaluation.run_test`, as `diffill eval`
runs it (skip with --no-sandbox-check); --thorough runs the wrong completions that way too
and fails if any verdict differs from the workers'.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import subprocess
import sys
import tokenize
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from diffill.model.evaluation import Task, run_test, write_tasks

HERE = Path(__file__).resolve().parent
PROBLEMS = HERE / "problems"
OUT = HERE / "exec_tasks.jsonl"
WRONG_COMPLETIONS = ("", "pass")
TIMEOUT_SECONDS = 0.25  # of CPU time per program; a canonical one takes a few ms
MAX_BODY_LINES = 10

# Blocks whose header is a line worth predicting.
_HEADERS = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Match,
)
_COMPOUND = (*_HEADERS, ast.Try, getattr(ast, "TryStar", ast.Try))  # try*: is 3.11+
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class Problem:
    name: str
    code: str  # the module text before `check`: what prompt + middle + suffix make up
    test: str  # the source of `check`
    entry_point: str
    tree: ast.Module  # of `code`


@dataclass
class BuildReport:
    problems: int = 0
    candidates: dict[str, int] = field(default_factory=dict)  # kind -> tasks before dropping
    kept: dict[str, int] = field(default_factory=dict)
    # Trivially passable tasks: (task id, a wrong completion that passes).
    dropped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.problems} problems"]
        for kind in sorted(self.candidates):
            lines.append(
                f"{kind}: {self.candidates[kind]} candidate tasks, {self.kept.get(kind, 0)} kept"
            )
        lines.append(f"trivially passable (dropped): {len(self.dropped)}")
        lines.extend(f"  {task_id} (passes with {wrong!r})" for task_id, wrong in self.dropped)
        return "\n".join(lines)


class ProblemError(ValueError):
    pass


def load_problem(path: Path) -> Problem:
    """Read and check one problem module."""
    source = path.read_text(encoding="utf-8")
    name = path.stem
    if not name.isidentifier():
        raise ProblemError(f"{path}: name the file like a module")
    tree = ast.parse(source, filename=str(path))
    checks = [
        i for i, n in enumerate(tree.body) if isinstance(n, ast.FunctionDef) and n.name == "check"
    ]
    entry_point = _entry_point(tree.body[-1]) if tree.body else None
    if len(checks) != 1 or checks[0] != len(tree.body) - 2 or entry_point is None:
        raise ProblemError(
            f"{path}: must end with `def check(candidate)` and then ENTRY_POINT = '<name>'"
        )
    check = tree.body[checks[0]]
    assert isinstance(check, ast.FunctionDef)
    if [a.arg for a in check.args.args] != ["candidate"]:
        raise ProblemError(f"{path}: check takes one argument, candidate")
    if sum(isinstance(n, ast.Assert) for n in ast.walk(check)) < 4:
        raise ProblemError(f"{path}: check needs at least 4 asserts")
    if any(isinstance(n, ast.Name) and n.id == entry_point for n in ast.walk(check)):
        raise ProblemError(f"{path}: check must use candidate, not {entry_point}")
    lines = source.splitlines(keepends=True)
    code = "".join(lines[: check.lineno - 1]).rstrip() + "\n"
    test = ast.get_source_segment(source, check)
    assert test is not None
    code_tree = ast.parse(code)
    top = {n.name: n for n in code_tree.body if isinstance(n, (*_FUNCTIONS, ast.ClassDef))}
    if entry_point not in top:
        raise ProblemError(f"{path}: ENTRY_POINT {entry_point!r} is not defined before check")
    for node in ast.walk(code_tree):
        if isinstance(node, _FUNCTIONS):
            _check_function(path, node)
    return Problem(name, code, test, entry_point, code_tree)


def _entry_point(node: ast.stmt) -> str | None:
    """The name in `ENTRY_POINT = "name"`, when node is that."""
    if (
        isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["ENTRY_POINT"]
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ):
        return node.value.value
    return None


def _check_function(path: Path, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    args += [a for a in (fn.args.vararg, fn.args.kwarg) if a is not None]
    untyped = [a.arg for a in args if a.annotation is None and a.arg not in ("self", "cls")]
    if untyped or fn.returns is None:
        raise ProblemError(f"{path}:{fn.lineno}: {fn.name} needs type hints")
    body = _body(fn)
    if ast.get_docstring(fn) is None or not body:
        raise ProblemError(f"{path}:{fn.lineno}: {fn.name} needs a docstring and a body")
    size = body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]
    if size > MAX_BODY_LINES:
        raise ProblemError(
            f"{path}:{fn.lineno}: {fn.name}: {size} body lines, over {MAX_BODY_LINES}"
        )


def _body(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    """The statements of a function after its docstring."""
    body = fn.body
    if ast.get_docstring(fn) is not None:
        body = body[1:]
    return body


def _statements(body: list[ast.stmt]) -> list[ast.stmt | ast.excepthandler | ast.match_case]:
    """Every statement (and except clause, and case) in body, nested blocks included,
    but not the bodies of nested functions or classes (those are functions of their own)."""
    out: list[ast.stmt | ast.excepthandler | ast.match_case] = []
    for node in body:
        out.append(node)
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            continue
        if isinstance(node, ast.Match):
            for case in node.cases:
                out.append(case)
                out.extend(_statements(case.body))
            continue
        for name in ("body", "orelse", "finalbody"):
            out.extend(_statements(getattr(node, name, [])))
        for handler in getattr(node, "handlers", []):
            out.append(handler)
            out.extend(_statements(handler.body))
    return out


def _is_candidate(node: ast.AST, line: str, commented: bool) -> bool:
    """Whether the line where node starts makes a single-line task."""
    if isinstance(node, ast.Pass) or (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ):
        return False
    if isinstance(node, ast.ExceptHandler):
        return node.type is not None and _header_line(node, line, commented)
    if isinstance(node, ast.match_case):
        bare = isinstance(node.pattern, ast.MatchAs) and node.pattern.pattern is None
        return not (bare and node.guard is None) and _header_line(node, line, commented)
    if isinstance(node, _HEADERS):
        return _header_line(node, line, commented)
    if isinstance(node, _COMPOUND):  # try: / try*:
        return False
    # A simple statement: only when it is all there is on its line (no `;`, no comment).
    data = line.rstrip("\r\n").rstrip().encode("utf-8")  # ast offsets count UTF-8 bytes
    indent = len(data) - len(data.lstrip())
    assert isinstance(node, ast.stmt)
    return (
        node.lineno == node.end_lineno
        and node.col_offset == indent
        and node.end_col_offset == len(data)
    )


def _header_line(node: ast.AST, line: str, commented: bool) -> bool:
    """A block header (`if ...:`, `for ...:`, `def ...:`) that fills its own line."""
    body = node.body  # type: ignore[attr-defined]
    return body[0].lineno > node.lineno and line.rstrip().endswith(":") and not commented  # type: ignore[attr-defined]


def _commented_lines(code: str) -> set[int]:
    """Numbers of the lines that hold a comment."""
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return {tok.start[0] for tok in tokens if tok.type == tokenize.COMMENT}


def problem_tasks(problem: Problem) -> list[Task]:
    """All candidate tasks of a problem, single-line ones in line order, then the body."""
    code = problem.code
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    commented = _commented_lines(code)
    picked: set[int] = set()
    for fn in ast.walk(problem.tree):
        if isinstance(fn, _FUNCTIONS):
            for node in _statements(_body(fn)):
                n = node.lineno
                if _is_candidate(node, lines[n - 1], n in commented):
                    picked.add(n)
    tasks = []
    for n in sorted(picked):
        line = lines[n - 1]
        a = starts[n - 1] + len(line) - len(line.lstrip())
        b = starts[n - 1] + len(line.rstrip("\r\n"))
        tasks.append(_task(problem, f"exec/{problem.name}/{n}", a, b, "single_line"))
    body = _body(_multi_line_target(problem))
    first, last = body[0].lineno, body[-1].end_lineno
    assert last is not None
    a = starts[first - 1] + len(lines[first - 1]) - len(lines[first - 1].lstrip())
    b = starts[last - 1] + len(lines[last - 1].rstrip("\r\n"))
    tasks.append(_task(problem, f"exec/{problem.name}/body", a, b, "multi_line"))
    return tasks


def _multi_line_target(problem: Problem) -> ast.FunctionDef | ast.AsyncFunctionDef:
    node = next(
        n
        for n in problem.tree.body
        if isinstance(n, (*_FUNCTIONS, ast.ClassDef)) and n.name == problem.entry_point
    )
    if isinstance(node, _FUNCTIONS):
        return node
    methods = [n for n in node.body if isinstance(n, _FUNCTIONS)]
    if not methods:
        raise ProblemError(f"{problem.name}: class {node.name} has no methods")
    others = [m for m in methods if m.name != "__init__"] or methods

    def size(m: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
        body = _body(m)
        return body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]

    return max(others, key=size)  # the first of the longest


def _task(problem: Problem, task_id: str, a: int, b: int, kind: str) -> Task:
    code = problem.code
    return Task(
        task_id=task_id,
        prompt=code[:a],
        suffix=code[b:],
        canonical_solution=code[a:b],
        test=problem.test,
        entry_point=problem.entry_point,
        kind=kind,
    )


def program(task: Task, completion: str) -> str:
    """The program `diffill eval` runs for a completion (model/evaluation.py, `evaluate`)."""
    text = task.prompt + completion + task.suffix + "\n\n" + (task.test or "")
    if task.entry_point:
        text += f"\n\ncheck({task.entry_point})\n"
    return text


# Runs in a worker interpreter: reads a JSON list of programs on stdin, runs each in a
# fresh namespace under a limit on CPU time (which, unlike wall time, does not depend on
# how busy the machine is) and prints a JSON list of booleans: whether each passed.
_WORKER = r"""
import contextlib, gc, io, json, resource, signal, sys

class _Timeout(BaseException):
    pass

def _alarm(signum, frame):
    raise _Timeout()

limit = 1 << 30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
signal.signal(signal.SIGPROF, _alarm)
timeout = float(sys.argv[1])
programs = json.loads(sys.stdin.read())
out = sys.stdout
results = []
gc.disable()  # collected between programs, so that no collection counts against one
for n, text in enumerate(programs):
    if n % 20 == 0:
        gc.collect()
    passed = False
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            signal.setitimer(signal.ITIMER_PROF, timeout)
            try:
                exec(compile(text, "<task>", "exec"), {"__name__": "__main__"})
                passed = True
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
    except SystemExit as exit:
        passed = exit.code in (0, None)
    except BaseException:
        passed = False
    results.append(passed)
out.write(json.dumps(results))
"""


def run_programs(
    programs: list[str], timeout: float = TIMEOUT_SECONDS, workers: int | None = None
) -> list[bool]:
    """Whether each program runs to the end without an exception, in a few worker
    interpreters (not one process per program), each program in a fresh namespace."""
    if not programs:
        return []
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    chunks = [programs[i::workers] for i in range(workers)]

    def run(chunk: list[str]) -> list[bool]:
        if not chunk:
            return []
        done = subprocess.run(
            [sys.executable, "-I", "-c", _WORKER, str(timeout)],
            input=json.dumps(chunk),
            capture_output=True,
            text=True,
            timeout=60 + timeout * len(chunk),
            env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"},
            check=True,
        )
        return json.loads(done.stdout)

    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(run, chunks))
    results: list[bool] = [False] * len(programs)
    for i, part in enumerate(parts):
        results[i::workers] = part
    return results


def wrong_completions(task: Task) -> list[str]:
    """Completions that leave out what the task asks for: nothing, `pass`, and for an
    `if`/`elif`/`while` header the same keyword with a constant condition. A task that
    passes with any of them does not measure its line (or its condition)."""
    wrong = list(WRONG_COMPLETIONS)
    keyword = task.canonical_solution.split(" ", 1)[0]
    if task.kind == "single_line" and task.canonical_solution.endswith(":"):
        if keyword in ("if", "elif"):
            wrong += [f"{keyword} True:", f"{keyword} False:"]
        elif keyword == "while":
            wrong.append("while False:")
    return wrong


def build(problems_dir: Path = PROBLEMS) -> tuple[list[Task], BuildReport]:
    """The task set from every problem in problems_dir, and what happened on the way.
    Raises ProblemError when a problem is malformed or a canonical solution fails."""
    report = BuildReport()
    candidates: list[Task] = []
    for path in sorted(problems_dir.glob("*.py")):
        candidates.extend(problem_tasks(load_problem(path)))
        report.problems += 1
    tried = [[t.canonical_solution, *wrong_completions(t)] for t in candidates]
    outcomes = iter(run_programs([program(t, c) for t, cs in zip(candidates, tried) for c in cs]))
    tasks = []
    failed = []
    for task, completions in zip(candidates, tried):
        canonical, *wrong = (next(outcomes) for _ in completions)
        report.candidates[task.kind] = report.candidates.get(task.kind, 0) + 1
        passing = [c for c, ok in zip(completions[1:], wrong) if ok]
        if not canonical:
            failed.append(task.task_id)
        elif passing:
            report.dropped.append((task.task_id, passing[0]))
        else:
            tasks.append(task)
            report.kept[task.kind] = report.kept.get(task.kind, 0) + 1
    if failed:
        raise ProblemError("canonical solution fails: " + ", ".join(failed))
    return tasks, report


def make(out: Path = OUT, problems_dir: Path = PROBLEMS) -> BuildReport:
    """Build the set and write it to out as JSONL."""
    tasks, report = build(problems_dir)
    write_tasks(tasks, out)
    return report


def sandbox_check(tasks: list[Task], thorough: bool = False) -> list[str]:
    """What `evaluation.run_test` (the sandbox `diffill eval` uses) says differently from
    build(): tasks whose canonical composition fails there and, when thorough, tasks that
    pass there with one of their wrong completions."""
    runs = [(t, t.canonical_solution, True) for t in tasks]
    if thorough:
        runs += [(t, c, False) for t in tasks for c in wrong_completions(t)]

    def verdict(run: tuple[Task, str, bool]) -> str | None:
        task, completion, expected = run
        passed = run_test(program(task, completion), timeout=5)
        return None if passed == expected else f"{task.task_id} with {completion!r}"

    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        return [v for v in pool.map(verdict, runs) if v is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=Path, default=PROBLEMS)
    parser.add_argument("--out", type=Path, default=OUT)
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument(
        "--no-sandbox-check",
        action="store_true",
        help="skip running every canonical composition through evaluation.run_test",
    )
    checks.add_argument(
        "--thorough",
        action="store_true",
        help="run the wrong completions through evaluation.run_test too (minutes)",
    )
    args = parser.parse_args(argv)
    try:
        tasks, report = build(args.problems)
    except ProblemError as err:
        print(f"make_exec_tasks: {err}", file=sys.stderr)
        return 1
    write_tasks(tasks, args.out)
    print(report.summary())
    print(f"wrote {len(tasks)} tasks to {args.out}")
    if not args.no_sandbox_check:
        differ = sandbox_check(tasks, thorough=args.thorough)
        if differ:
            print("evaluation.run_test disagrees: " + ", ".join(differ), file=sys.stderr)
            return 1
        what = "canonical and wrong completions" if args.thorough else "canonical solutions"
        print(f"evaluation.run_test agrees on the {what} of all {len(tasks)} tasks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
