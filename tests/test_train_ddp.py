"""`diffill train` under torchrun: two CPU processes over gloo, as several GPUs would run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from diffill.model import DEFAULT_MODEL
from diffill.model import checkpoint as ckpt

STDLIB = Path(shutil.__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_training_saves_one_checkpoint(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("textwrap.py", "shlex.py", "fnmatch.py", "glob.py"):
        shutil.copy(STDLIB / name, corpus / name)
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [
        str(torchrun),
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "diffill.server.cli",
        "train",
        "--corpus",
        str(corpus),
        "--out",
        str(tmp_path / "run"),
        "--size",
        "tiny",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--seq-tokens",
        "96",
        "--device",
        "cpu",
        "--tokenizer",
        str(DEFAULT_MODEL / "tokenizer.json"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = ckpt.load(tmp_path / "run" / "model")
    assert loaded.info["steps"] == 2
    # both ranks counted: 2 steps x 2 processes x 2 examples of at most 96 + 96 tokens
    assert loaded.info["tokens_seen"] > 2 * 2 * 2 * 50
