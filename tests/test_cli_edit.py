"""The `fill` and `refactor` commands, with a scripted model where its choice does not
matter, and once end to end with the shipped model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diffill.server import cli, syntax
from diffill.server.cli import edit_commands

from .scripted_model import ScriptedInfiller

ROOT = Path(__file__).parent.parent
TODO = "def area(r):\n    # TODO: area of a circle\n    pass\n"


@pytest.fixture()
def scripted(monkeypatch, tokenizer):
    model = ScriptedInfiller(tokenizer, ["return 3.14159 * r * r"])
    monkeypatch.setattr(edit_commands, "load_backend", lambda args: model)
    return model


def test_fill_prints_a_diff_and_changes_nothing(tmp_path, scripted, capsys):
    f = tmp_path / "a.py"
    f.write_text(TODO)
    assert cli.main(["fill", str(f), "--line", "2"]) == 0
    out = capsys.readouterr().out
    assert "-    # TODO: area of a circle\n-    pass\n+    return 3.14159 * r * r\n" in out
    assert f.read_text() == TODO


def test_fill_write_and_json(tmp_path, scripted, capsys):
    f = tmp_path / "a.py"
    f.write_text(TODO)
    assert cli.main(["fill", str(f), "--at", "3:5", "--write", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["status"] == "changed" and obj["replacement"] == "return 3.14159 * r * r"
    assert obj["range"]["start"] == {"line": 2, "column": 5, "offset": 17}
    assert obj["edits"][0]["start"]["utf-16"] == [1, 4]
    assert f.read_text() == "def area(r):\n    return 3.14159 * r * r\n"


@pytest.mark.parametrize(
    "where", [["--line", "9"], ["--line", "3-2"], ["--range", "1:1-x"], ["--at", "0:1"]]
)
def test_fill_bad_positions_are_usage_errors(tmp_path, scripted, where, capsys):
    f = tmp_path / "a.py"
    f.write_text(TODO)
    assert cli.main(["fill", str(f), *where]) == 2
    assert capsys.readouterr().err.startswith("diffill fill:")


def test_fill_on_unreadable_input_fails_cleanly(tmp_path, scripted, capsys):
    f = tmp_path / "a.py"
    f.write_bytes(b"x = '\xff'\n")
    assert cli.main(["fill", str(f), "--line", "1"]) == 1
    assert "not valid UTF-8" in capsys.readouterr().err
    g = tmp_path / "a.txt"
    g.write_text("hi\n")
    assert cli.main(["fill", str(g), "--line", "1"]) == 1
    assert "unsupported language" in capsys.readouterr().err
    assert cli.main(["fill", str(tmp_path / "none.py"), "--line", "1"]) == 1


def test_fill_with_a_broken_model_folder(tmp_path, capsys):
    f = tmp_path / "a.py"
    f.write_text(TODO)
    assert cli.main(["fill", str(f), "--line", "2", "--model", str(tmp_path)]) == 1
    assert "cannot load the model" in capsys.readouterr().err


def test_refactor_check_exit_codes(tmp_path, scripted, capsys):
    (tmp_path / "a.py").write_text(TODO)
    assert cli.main(["refactor", str(tmp_path), "--select", "todo", "--check"]) == 1
    captured = capsys.readouterr()
    assert "+    return 3.14159 * r * r" in captured.out
    assert "1 changed" in captured.err
    (tmp_path / "a.py").write_text("x = 1\n")
    assert cli.main(["refactor", str(tmp_path), "--select", "todo", "--check"]) == 0
    assert cli.main(["refactor", str(tmp_path), "--select", "todo"]) == 0


def test_refactor_json_lines(tmp_path, scripted, capsys):
    (tmp_path / "a.py").write_text(TODO)
    (tmp_path / "b.py").write_bytes(b"\x00\x01")
    assert cli.main(["refactor", str(tmp_path), "--select", "todo", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["status"] for d in lines] == ["changed", "skipped"]
    assert set(lines[0]) >= {"file", "range", "original", "replacement", "status", "reason"}


def test_refactor_bad_query_is_a_usage_error(tmp_path, scripted, capsys):
    assert cli.main(["refactor", str(tmp_path), "--select", "(nonsense"]) == 2
    assert "bad --select query" in capsys.readouterr().err


def test_refactor_write_then_nothing_left(tmp_path, scripted, capsys):
    (tmp_path / "a.py").write_text(TODO)
    assert cli.main(["refactor", str(tmp_path), "--select", "todo", "--write"]) == 0
    assert "return 3.14159" in (tmp_path / "a.py").read_text()
    assert cli.main(["refactor", str(tmp_path), "--select", "todo", "--check"]) == 0


def test_end_to_end_with_the_shipped_model(tmp_path):
    """The README's main job: fill the bundled example's placeholder with the real model.

    The shipped model is deterministic (greedy sampling, fixed seed): on this example it
    changes the span, and what it writes parses."""
    example = tmp_path / "shapes.py"
    shutil.copy(ROOT / "examples" / "shapes.py", example)
    exe = Path(sys.executable).parent / "diffill"
    run = subprocess.run(
        [str(exe), "fill", str(example), "--line", "15", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert (result["status"], result["reason"]) == ("changed", None)
    assert result["range"]["start"] == {"line": 15, "column": 9, "offset": 265}
    assert result["range"]["end"] == {"line": 16, "column": 13, "offset": 317}
    assert result["original"] == "# TODO: the circumference of the circle\n        pass"
    assert result["replacement"].strip() and result["replacement"] != result["original"]
    after = (
        example.read_text()[: result["range"]["start"]["offset"]]
        + result["replacement"]
        + example.read_text()[result["range"]["end"]["offset"] :]
    )
    lang = syntax.language_for_name("python")
    assert syntax.count_errors(syntax.parse(after.encode(), lang), lang) == 0
    assert example.read_text() == (ROOT / "examples" / "shapes.py").read_text()  # a dry run


def test_refactor_names_the_skipped_files_without_json(tmp_path, scripted, capsys):
    (tmp_path / "a.py").write_text(TODO)
    for i in range(7):
        (tmp_path / f"b{i}.py").write_bytes(b"\x00\x01")
    (tmp_path / "notes.txt").write_text("hello\n")
    assert cli.main(["refactor", str(tmp_path), "--select", "todo"]) == 0
    err = capsys.readouterr().err
    assert "notes.txt" in err  # named, not only counted
    assert "b0.py" in err and "b4.py" in err and "and 2 more" in err
    assert "--json lists every skipped file" in err
