from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from diffill.model import DEFAULT_MODEL
from diffill.model import checkpoint as ckpt
from diffill.server.cli import main

from .conftest import tiny_model

STDLIB = Path(shutil.__file__).parent


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "info" in out and "train" in out


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "diffill"
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "usage: diffill" in result.stdout


def test_info_reports_model_facts(tmp_path, tokenizer, capsys):
    model = tiny_model(tokenizer.vocab_size)
    ckpt.save(tmp_path / "m", model, tokenizer, info={"steps": 3, "tokens_seen": 1000})
    assert main(["info", "--model", str(tmp_path / "m"), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["parameters"] == model.num_parameters()
    assert facts["model"] == str(tmp_path / "m")
    assert facts["training"]["steps"] == 3
    assert "torch" in facts["versions"] and facts["device"]


def test_info_on_a_broken_folder_says_why(tmp_path, capsys):
    assert main(["info", "--model", str(tmp_path)]) == 1
    assert "has no config.json" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def test_train_requires_a_budget(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--corpus", ".", "--out", "x"])
    assert exit_info.value.code == 2


def test_train_runs_saves_and_resumes(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("textwrap.py", "shlex.py", "fnmatch.py", "glob.py", "bisect.py"):
        shutil.copy(STDLIB / name, corpus / name)
    tok = str(DEFAULT_MODEL / "tokenizer.json")
    args = [
        "train",
        "--corpus",
        str(corpus),
        "--out",
        str(tmp_path / "run"),
        "--size",
        "tiny",
        "--batch-size",
        "2",
        "--seq-tokens",
        "96",
        "--device",
        "cpu",
        "--tokenizer",
        tok,
    ]
    assert main([*args, "--steps", "3"]) == 0
    folder = tmp_path / "run" / "model"
    loaded = ckpt.load(folder)
    assert loaded.info["steps"] == 3
    assert "token_loss" in loaded.info["heldout"]
    state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)
    assert state["step"] == 3
    assert main([*args, "--steps", "5"]) == 0
    assert ckpt.load(folder).info["steps"] == 5
    assert "resumed at step 3" in capsys.readouterr().err
    # The run's corpus was filtered: an unfiltered run must not silently reuse it.
    assert main([*args, "--steps", "6", "--no-filter"]) == 1
    assert "not built without filtering" in capsys.readouterr().err
    assert ckpt.load(folder).info["steps"] == 5


def test_train_on_an_empty_corpus_fails_cleanly(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(
        [
            "train",
            "--corpus",
            str(tmp_path / "empty"),
            "--out",
            str(tmp_path / "r"),
            "--steps",
            "1",
            "--size",
            "tiny",
        ]
    )
    assert code == 1
    assert "no Python files" in capsys.readouterr().err
