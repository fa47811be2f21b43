from __future__ import annotations

import json

import pytest
import torch

from diffill.model import CheckpointError, load
from diffill.model import checkpoint as ckpt

from .conftest import tiny_model


@pytest.fixture()
def saved(tmp_path, tokenizer):
    model = tiny_model(tokenizer.vocab_size, seed=2)
    ckpt.save(tmp_path / "m", model, tokenizer, info={"steps": 5}, dtype=torch.float32)
    return tmp_path / "m", model


def test_round_trip_gives_identical_logits(saved):
    folder, model = saved
    loaded = ckpt.load(folder)
    tokens = torch.randint(0, 500, (2, 9))
    pos = torch.arange(9)[None].expand(2, -1)
    torch.testing.assert_close(loaded.model(tokens, pos), model(tokens, pos))
    assert loaded.info == {"steps": 5}
    assert loaded.model.cfg == model.cfg


def test_sharded_weights_load(tmp_path, tokenizer):
    model = tiny_model(tokenizer.vocab_size, seed=3)
    folder = ckpt.save(tmp_path / "s", model, tokenizer, shard_bytes=600_000)
    shards = sorted(p.name for p in folder.glob("model-*.safetensors"))
    assert len(shards) > 1 and (folder / "model.safetensors.index.json").is_file()
    assert not (folder / "model.safetensors").exists()
    loaded = ckpt.load(folder)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.model.state_dict().items()):
        torch.testing.assert_close(a.to(torch.bfloat16), b, msg=name)


def test_load_returns_an_infiller(saved):
    folder, _ = saved
    inf = load(folder, device="cpu", dtype="float32")
    assert inf.facts.folder == folder and inf.facts.training == {"steps": 5}
    assert inf.infill("x = ", "\n", length=3).length == 3


def _edit_config(folder, **changes):
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda f: (f / "config.json").unlink(), "has no config.json"),
        (lambda f: (f / "tokenizer.json").unlink(), "has no tokenizer.json"),
        (lambda f: (f / "model.safetensors").unlink(), "has no model.safetensors"),
        (lambda f: (f / "config.json").write_text("{nope"), "not valid JSON"),
        (lambda f: _edit_config(f, format_version=99), "newer than this diffill reads"),
        (lambda f: _edit_config(f, model_type="llama"), "model_type"),
        (lambda f: _edit_config(f, model={"vocab_size": 100}), "tokenizer has"),
        (lambda f: (f / "model.safetensors").write_bytes(b"garbage"), "cannot read the weights"),
        (lambda f: (f / "tokenizer.json").write_text("{}"), "cannot read"),
    ],
)
def test_broken_folders_fail_with_a_message_naming_the_problem(saved, breakage, message):
    folder, _ = saved
    breakage(folder)
    with pytest.raises(CheckpointError, match=message):
        ckpt.load(folder)


def test_wrong_shape_is_named(saved):
    folder, _ = saved
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model"]["mlp_dim"] = 320
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="has shape"):
        ckpt.load(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load(tmp_path / "nowhere")
