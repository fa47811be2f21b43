"""Build the execution-checked infilling set bench/tasks/exec_tasks.jsonl from the problems
in bench/tasks/problems.

Each problem is a module: the code under test (one or two functions, or a small class),
then `def check(candidate)` with the asserts, then `ENTRY_POINT = "name"`. From it come

* `single_line` tasks: one per body line that is a statement worth predicting (not a
  docstring, comment, `pass`, bare `else:`/`try:`/`finally:`/`case _:`, and only a line that
  holds one whole statement or a whole block header), the line's text after its indentation
  being the hidden middle;
* one `multi_line` task: the body of the entry point after its docstring (for a class, of its
  longest method other than `__init__`).

The prompt and suffix are the module text before `check`; `test` is the source of `check`.
Every task's canonical composition must pass, and a task that also passes with an empty or
`pass` completion measures nothing, so it is dropped (and reported).

    python -m bench.tasks.make_exec_tasks [--problems DIR] [--out FILE] [--no-sandbox-check]

The drop decision runs the programs in a few worker interpreters (fresh namespace per
program, one-second limit each); the canonical compositions are then run once more, one
by one, through `diffill.model.evaluation.run_test`, exactly as `diffill eval` runs them
(skip that with --no-sandbox-check).
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
TIMEOUT_SECONDS = 1.0
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
_COMPOUND = (*_HEADERS, ast.Try, ast.TryStar)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class Problem:
    name: str
    source: str  # the whole file
    code: str  # the module text before `check`: what prompt + middle + suffix make up
    test: str  # the source of `check`
    entry_point: str
    tree: ast.Module  # of `code`


@dataclass
class BuildReport:
    problems: int = 0
    candidates: dict[str, int] = field(default_factory=dict)  # kind -> tasks before dropping
    kept: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # trivially passable task ids

    def summary(self) -> str:
        lines = [f"{self.problems} problems"]
        for kind in sorted(self.candidates):
            lines.append(
                f"{kind}: {self.candidates[kind]} candidate tasks, {self.kept.get(kind, 0)} kept"
            )
        lines.append(f"trivially passable (dropped): {len(self.dropped)}")
        lines.extend(f"  {task_id}" for task_id in self.dropped)
        return "\n".join(lines)


class ProblemError(ValueError):
    pass


def load_problem(path: Path) -> Problem:
    """Read and check one problem module."""
    source = path.read_text(encoding="utf-8")
    name = path.stem
    tree = ast.parse(source, filename=str(path))
    check_at = entry_point = None
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            check_at = i
        elif (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["ENTRY_POINT"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            entry_point = node.value.value
    if check_at is None or entry_point is None:
        raise ProblemError(f"{path}: needs `def check(candidate)` and ENTRY_POINT = '...'")
    check = tree.body[check_at]
    assert isinstance(check, ast.FunctionDef)
    rest = tree.body[check_at + 1 :]
    if any(not (isinstance(n, ast.Assign) and n is not check) for n in rest) or len(rest) != 1:
        raise ProblemError(f"{path}: `check` must be followed by ENTRY_POINT only")
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
    return Problem(name, source, code, test, entry_point, code_tree)


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
        raise ProblemError(f"{path}:{fn.lineno}: {fn.name} body is {size} lines (at most 10)")


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
# fresh namespace under a time limit, and prints a JSON list of booleans (passed or not).
_WORKER = r"""
import contextlib, io, json, resource, signal, sys

class _Timeout(BaseException):
    pass

def _alarm(signum, frame):
    raise _Timeout()

limit = 1 << 30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
signal.signal(signal.SIGALRM, _alarm)
timeout = float(sys.argv[1])
programs = json.loads(sys.stdin.read())
out = sys.stdout
results = []
for text in programs:
    passed = False
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                exec(compile(text, "<task>", "exec"), {"__name__": "__main__"})
                passed = True
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
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


def build(problems_dir: Path = PROBLEMS) -> tuple[list[Task], BuildReport]:
    """The task set from every problem in problems_dir, and what happened on the way.
    Raises ProblemError when a problem is malformed or a canonical solution fails."""
    report = BuildReport()
    candidates: list[Task] = []
    for path in sorted(problems_dir.glob("*.py")):
        candidates.extend(problem_tasks(load_problem(path)))
        report.problems += 1
    runs = [program(t, c) for t in candidates for c in (t.canonical_solution, *WRONG_COMPLETIONS)]
    outcomes = run_programs(runs)
    width = 1 + len(WRONG_COMPLETIONS)
    tasks = []
    failed = []
    for i, task in enumerate(candidates):
        canonical, *wrong = outcomes[i * width : (i + 1) * width]
        report.candidates[task.kind] = report.candidates.get(task.kind, 0) + 1
        if not canonical:
            failed.append(task.task_id)
        elif any(wrong):
            report.dropped.append(task.task_id)
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


def sandbox_check(tasks: list[Task]) -> list[str]:
    """Ids of tasks whose canonical composition fails under evaluation.run_test."""
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        passed = list(pool.map(lambda t: run_test(program(t, t.canonical_solution)), tasks))
    return [t.task_id for t, ok in zip(tasks, passed) if not ok]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=Path, default=PROBLEMS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--no-sandbox-check",
        action="store_true",
        help="skip running every canonical composition through evaluation.run_test",
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
        failed = sandbox_check(tasks)
        if failed:
            print("fails under evaluation.run_test: " + ", ".join(failed), file=sys.stderr)
            return 1
        print(f"all {len(tasks)} canonical compositions pass under evaluation.run_test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
