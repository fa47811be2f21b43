"""`diffill pull NAME` and `--model NAME`: published open checkpoints by short name, in the
Hugging Face cache. No test reaches the network: pulls run offline or against a closed
local port, and names resolve against a folder laid out as the Hub's cache, holding tiny
random checkpoints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub.utils import filter_repo_objects

from diffill.model import CheckpointError, hub, load
from diffill.model.loading import model_folder
from diffill.server.cli import main
from diffill.server.cli.edit_commands import actor_model
from diffill.server.cli.pull import NAMES

from .open_checkpoints import dream_folder, llada_folder

SHA = "0123456789abcdef0123456789abcdef01234567"


def cached(cache: Path, repo: str, build) -> Path:
    """`build(folder)` as the snapshot of `repo` that refs/main names, the Hub's layout."""
    storage = cache / f"models--{repo.replace('/', '--')}"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(SHA)  # the Hub writes the hash, no newline
    return build(storage / "snapshots" / SHA)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty Hub cache of this test's own, offline."""
    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


def open_dcoder(cache: Path) -> Path:
    return cached(cache, "fredzzp/open-dcoder-0.5B", lambda f: dream_folder(f, "open-dcoder"))


def test_the_cli_spells_the_names_as_the_table_does():
    assert tuple(m.name for m in hub.MODELS) == NAMES


def test_names_match_in_any_case_and_as_repository_ids():
    assert hub.find("open-dcoder-0.5b") is hub.find("Open-dCoder-0.5B") is hub.MODELS[0]
    assert hub.find("GSAI-ML/LLaDA-8B-Instruct") is hub.find("LLaDA-8B")
    assert hub.find("LLaDA") is None


def test_a_cached_name_resolves_to_its_snapshot(cache):
    snapshot = open_dcoder(cache)
    assert model_folder("Open-dCoder-0.5B") == (snapshot.resolve(), "Open-dCoder-0.5B")
    backend = load("open-dcoder-0.5b")
    assert backend.facts.name == "Open-dCoder-0.5B"
    assert backend.facts.folder is not None and backend.facts.folder.resolve() == snapshot
    assert isinstance(backend.infill("def add(a, b):\n    return ", "\n", steps=2).text, str)


def test_info_takes_a_cached_name(cache, capsys):
    snapshot = cached(cache, "GSAI-ML/LLaDA-8B-Instruct", llada_folder)
    assert main(["info", "--model", "LLaDA-8B"]) == 0
    assert str(snapshot.resolve()) in capsys.readouterr().out


def test_a_name_not_downloaded_names_the_pull(cache, capsys):
    with pytest.raises(CheckpointError, match=r"not downloaded: run `diffill pull LLaDA-8B`"):
        load("LLaDA-8B")
    assert main(["info", "--model", "Dream-Coder-7B"]) == 1
    err = capsys.readouterr().err
    assert "`diffill pull Dream-Coder-7B`" in err and "Traceback" not in err


def test_a_download_cut_short_says_pull_finishes_it(cache):
    (cache / "models--apple--DiffuCoder-7B-cpGRPO" / "blobs").mkdir(parents=True)
    with pytest.raises(CheckpointError, match=r"partly downloaded: `diffill pull DiffuCoder-7B`"):
        load("DiffuCoder-7B")
    snapshot = open_dcoder(cache)
    (snapshot / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"lacks weight shard.*`diffill pull Open-dCoder"):
        load("Open-dCoder-0.5B")


def test_an_unknown_bare_name_lists_the_known_ones(cache):
    with pytest.raises(CheckpointError, match="does not exist") as info:
        load("Nope-7B")
    assert all(name in str(info.value) for name in NAMES)


def test_a_folder_of_that_name_comes_first(cache, tmp_path, monkeypatch):
    llada_folder(tmp_path / "work" / "LLaDA-8B")
    monkeypatch.chdir(tmp_path / "work")
    assert model_folder("LLaDA-8B") == (Path("LLaDA-8B"), "LLaDA-8B")
    folder = load("LLaDA-8B").facts.folder
    assert folder is not None and folder.resolve() == (tmp_path / "work" / "LLaDA-8B").resolve()


def test_ray_actors_get_a_pulled_name_as_it_is(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path)
    assert actor_model("Dream-Coder-7B") == "Dream-Coder-7B"  # each node's own cache
    assert actor_model("here") == str(tmp_path.resolve() / "here")
    assert actor_model(None) is None and actor_model("default") is None


def test_pull_of_an_unknown_name_lists_the_known_ones(capsys):
    assert main(["pull", "Nope-7B"]) == 2
    err = capsys.readouterr().err
    assert all(m.name in err and m.repo in err for m in hub.MODELS)


def test_pull_offline_of_a_cached_model_prints_its_folder(cache, capsys):
    snapshot = open_dcoder(cache)
    assert main(["pull", "Open-dCoder-0.5B"]) == 0
    assert capsys.readouterr().out.strip() == str(snapshot.resolve())


def pull(name: str, cache: Path, **env: str) -> subprocess.CompletedProcess:
    """`diffill pull NAME` in a fresh process (huggingface_hub reads its settings at
    import), with no proxy and nothing of the user's cache."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().endswith("_PROXY") and not k.startswith("HF_")
    }
    return subprocess.run(
        [sys.executable, "-m", "diffill.server.cli", "pull", name],
        env={**clean, "HF_HOME": str(cache), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pull_offline_fails_clearly(tmp_path):
    done = pull("Open-dCoder-0.5B", tmp_path, HF_HUB_OFFLINE="1")
    assert done.returncode == 1
    assert "HF_HUB_OFFLINE is set" in done.stderr and "diffill pull Open-dCoder-0.5B" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_pull_without_a_hub_to_reach_fails_clearly(tmp_path):
    with socket.socket() as s:  # a port nothing listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = pull("LLaDA-8B", tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    assert "cannot reach the Hugging Face Hub" in done.stderr
    assert "diffill pull LLaDA-8B" in done.stderr and "Traceback" not in done.stderr


PUBLISHED_DREAM = [
    ".gitattributes",
    "README.md",
    "config.json",
    "configuration_dream.py",
    "generation_config.json",
    "generation_utils.py",
    "merges.txt",
    *(f"model-0000{i}-of-00004.safetensors" for i in range(1, 5)),
    "model.safetensors.index.json",
    "modeling_dream.py",
    "pytorch_model.bin",
    "special_tokens_map.json",
    "tokenization_dream.py",
    "tokenizer_config.json",
    "vocab.json",
]


def test_pull_takes_the_files_a_model_folder_needs(tmp_path):
    kept = set(filter_repo_objects(PUBLISHED_DREAM, allow_patterns=list(hub.FILES)))
    assert kept == set(PUBLISHED_DREAM) - {
        ".gitattributes",
        "README.md",
        "pytorch_model.bin",
        *(f for f in PUBLISHED_DREAM if f.endswith(".py")),
    }
    # Everything a loadable folder of each layout holds is taken.
    for folder in (
        dream_folder(tmp_path / "dream", "dream"),
        dream_folder(tmp_path / "open-dcoder", "open-dcoder"),
        llada_folder(tmp_path / "llada"),
    ):
        files = [p.name for p in folder.iterdir()]
        assert set(filter_repo_objects(files, allow_patterns=list(hub.FILES))) == set(files)
