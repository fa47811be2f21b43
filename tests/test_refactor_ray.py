"""`refactor --ray` on a real Ray runtime that the tests start on 127.0.0.1 (2 CPUs, no
dashboard, no usage statistics), with 2 model actors on a tiny random model: the same
edits as a local run, an actor killed mid-run survived with nothing lost, and `--write`
skipping a file changed meanwhile, with its reason. Plus, without Ray: how actors are
sized, and that nothing imports Ray without --ray.

One runtime and one pool of actors serve the module: starting them is most of its time.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from diffill.model import DEFAULT_MODEL, load
from diffill.model import checkpoint as ckpt
from diffill.model.tokenizer import CodeTokenizer
from diffill.server import cli, refactor
from diffill.server.cluster import ModelSpec, Placement, RayRunner, connect, place
from diffill.server.editing.request import EditOptions
from diffill.server.refactor import Mode, RefactorOptions

from .conftest import tiny_model

# CI installs the extra: there a missing Ray fails these tests instead of skipping them.
# (find_spec, not importorskip: Ray must not be imported before `connect` sets it up.)
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
    reason="needs the ray extra: pip install -e '.[ray]'",
)

# Bodies the tiny random model fills with something that parses more often than not.
SOURCE = "x{i} = 1\n\n\ndef f(a):\n    pass\n\n\ndef g(b):\n    pass\n"
FILES = 4  # 8 spans, one per batch: 4 batches in flight on 2 actors
SAMPLER = {"steps": 2, "seed": 0}
# Few steps and a short context keep a CPU shared with other work fast; the comparison
# holds for any setting.
OPTIONS = RefactorOptions(
    select="todo",
    batch_size=1,
    edit=EditOptions(max_context_tokens=128, sampler=SAMPLER),
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-model")
    tokenizer = CodeTokenizer.from_file(DEFAULT_MODEL / "tokenizer.json")
    ckpt.save(folder, tiny_model(tokenizer.vocab_size, span_positions=48), tokenizer)
    return folder


def make_tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(FILES):
        (root / f"m{i}.py").write_text(SOURCE.format(i=i))
    return root


def edits(outcomes: list[refactor.FileOutcome]) -> list[tuple]:
    """What a run decided for each span, wall-clock time aside."""
    return sorted(
        (
            Path(o.path).name,
            s.start,
            s.end,
            s.result.status,
            s.result.reason,
            s.result.replacement,
            s.result.edits,
            s.result.steps,
        )
        for o in outcomes
        for s in o.spans
    )


@pytest.fixture(scope="module")
def local_edits(model_dir, tmp_path_factory) -> list[tuple]:
    root = make_tree(tmp_path_factory.mktemp("local"))
    outcomes, _ = refactor.run([str(root)], load(str(model_dir)), OPTIONS)
    found = edits(outcomes)
    assert len(found) == 2 * FILES
    assert any(e[3] == "changed" for e in found), "a comparison that changes nothing proves little"
    return found


@pytest.fixture(scope="module")
def ray_runtime():
    with connect("local", num_cpus=2):
        import ray

        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        yield


@pytest.fixture(scope="module")
def runner(ray_runtime, model_dir) -> RayRunner:
    pool = RayRunner(ModelSpec(str(model_dir)), actors=2)
    pool.start()
    yield pool
    pool.close()


@needs_ray
def test_the_cli_gives_the_same_edits_as_a_local_run(
    ray_runtime, model_dir, tmp_path, local_edits, capsys
):
    root = make_tree(tmp_path / "src")
    args = ["refactor", str(root), "--select", "todo", "--json", "--model", str(model_dir)]
    args += ["--batch-size", "1", "--max-context", "128", "--steps", "2"]
    assert cli.main(args) == 0
    local = capsys.readouterr().out.splitlines()
    assert cli.main([*args, "--ray", "local", "--ray-actors", "2"]) == 0
    captured = capsys.readouterr()
    assert "ray: 2 model actors (cpu, 1 CPU each)" in captured.err

    def spans(lines: list[str]) -> list[dict]:
        rows = [json.loads(line) for line in lines]
        for row in rows:
            del row["seconds"]
        return sorted(rows, key=lambda r: (r["file"], r["range"]["start"]["offset"]))

    assert spans(captured.out.splitlines()) == spans(local)
    assert len(local) == 2 * FILES


@needs_ray
def test_an_actor_killed_mid_run_loses_nothing(runner, tmp_path, local_edits):
    root = make_tree(tmp_path / "src")
    victim = runner.actors[0].pid
    retried = runner.stats.retried
    killed = []

    def kill_once(out, span):
        # At the first result both actors still hold a batch: the victim's is lost.
        if not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    outcomes, summary = refactor.run([str(root)], runner, OPTIONS, on_span=kill_once)
    assert killed
    assert runner.stats.retried > retried, "the victim's batch was sent again"
    assert summary.errors == 0
    assert edits(outcomes) == local_edits


@needs_ray
def test_write_skips_a_file_changed_meanwhile_and_says_why(runner, tmp_path, local_edits):
    root = make_tree(tmp_path / "src")
    changed_by_user: list[Path] = []

    def edit_behind_our_back(out, span):
        if span.result.changed and not changed_by_user:
            path = Path(out.path)
            path.write_text(path.read_text() + "# the user's edit\n")
            changed_by_user.append(path)

    opts = dataclasses.replace(OPTIONS, mode=Mode.WRITE)
    outcomes, summary = refactor.run([str(root)], runner, opts, on_span=edit_behind_our_back)
    [path] = changed_by_user
    by_path = {Path(o.path): o for o in outcomes}
    assert by_path[path].error == "changed on disk since it was read; not written"
    assert path.read_text().endswith("# the user's edit\n"), "the user's edit is kept"
    assert summary.files_failed == 1
    assert summary.files_written == summary.files_changed - 1 >= 1
    for p, out in by_path.items():
        if p != path and out.written:
            assert p.read_text() == out.new_text
    assert not list(root.glob(".diffill-*"))


@needs_ray
def test_ctrl_c_leaves_every_file_untouched_and_no_ray_process_behind(tmp_path, model_dir):
    root = make_tree(tmp_path / "src")
    before = {p: p.read_bytes() for p in root.iterdir()}
    args = [sys.executable, "-m", "diffill.server.cli", "refactor", str(root), "--select", "todo"]
    args += ["--json", "--write", "--model", str(model_dir), "--batch-size", "1"]
    args += ["--max-context", "128", "--steps", "2", "--ray", "local", "--ray-actors", "1"]
    # Its own session, so that the SIGINT a terminal sends to its foreground group
    # reaches the command and the Ray processes it started, and not pytest.
    run = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert run.stdout is not None and json.loads(run.stdout.readline())["file"]
        os.killpg(run.pid, signal.SIGINT)
        _, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 130, err
    assert "interrupted" in err
    assert {p: p.read_bytes() for p in root.iterdir()} == before
    left = subprocess.run(["pgrep", "-s", str(run.pid)], capture_output=True, text=True)
    assert left.stdout == "", "the Ray processes it started are gone"


# -- without Ray -----------------------------------------------------------------------


def test_actors_are_sized_by_what_the_cluster_offers():
    two_nodes = [{"CPU": 8}, {"CPU": 4}]
    assert place(two_nodes, None) == Placement(12, num_cpus=1, num_gpus=0)
    # By default an actor computes with a local run's threads (the same numbers).
    assert place(two_nodes, None, threads=4) == Placement(3, num_cpus=4, num_gpus=0)
    assert place([{"CPU": 2}], None, threads=2) == Placement(1, num_cpus=2, num_gpus=0)
    assert place(two_nodes, 2) == Placement(2, num_cpus=4, num_gpus=0)  # 6 each fits neither
    assert place(two_nodes, 3) == Placement(3, num_cpus=4, num_gpus=0)
    assert place(two_nodes, 40) == Placement(40, num_cpus=1, num_gpus=0)
    gpus = [{"CPU": 16, "GPU": 1}, {"CPU": 16, "GPU": 1}]
    assert place(gpus, None) == Placement(2, num_cpus=1, num_gpus=1)
    assert place(gpus, 3) == Placement(3, num_cpus=1, num_gpus=0.5)
    assert place(gpus, None).device == "cuda" and place(two_nodes, None).device == "cpu"


def test_ray_actors_without_ray_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["refactor", str(tmp_path), "--select", "todo", "--ray-actors", "2"]) == 2
    assert "--ray-actors needs --ray" in capsys.readouterr().err


def test_nothing_imports_ray_without_the_flag(tmp_path, model_dir):
    (tmp_path / "a.py").write_text("x = 1\n")
    script = (
        "import sys\n"
        "from diffill.server import cli\n"
        f"code = cli.main(['refactor', {str(tmp_path)!r}, '--select', 'todo', "
        f"'--model', {str(model_dir)!r}])\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
        "sys.exit(code)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr
