"""The training optimizer: AdamW, or Muon for the blocks' matrices with AdamW for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from diffill.model.backends.transformer import DiffusionLM, config_for_size
from diffill.model.training import loop
from diffill.server.cli import main

from .test_train_speed import tiny_block_ar_args


def _tiny_model() -> DiffusionLM:
    torch.manual_seed(0)
    return DiffusionLM(config_for_size("tiny", 300))


def test_muon_takes_the_blocks_matrices_and_adamw_everything_else():
    model = _tiny_model()
    opt = loop.make_optimizer(model, "muon", lr=1e-3, weight_decay=0.1)
    assert isinstance(opt, loop.MuonWithAdamW)
    name_of = {id(p): n for n, p in model.named_parameters()}
    on_muon = {name_of[id(p)] for g in opt.muon.param_groups for p in g["params"]}
    on_adamw = {name_of[id(p)] for g in opt.adamw.param_groups for p in g["params"]}
    assert on_muon and not on_muon & on_adamw
    assert on_muon | on_adamw == set(name_of.values())
    assert all(n.startswith("blocks.") and n.endswith(".weight") for n in on_muon)
    assert "embed.weight" in on_adamw and any("norm" in n for n in on_adamw)
    assert all(model.get_parameter(n).dim() == 2 for n in on_muon)
    # The loop's schedule writes opt.param_groups: every group of both optimizers follows.
    for g in opt.param_groups:
        g["lr"] = 1.25e-4
    assert {g["lr"] for o in (opt.muon, opt.adamw) for g in o.param_groups} == {1.25e-4}


def test_muon_fits_a_batch_and_its_state_round_trips():
    model = _tiny_model()
    opt = loop.make_optimizer(model, "muon", lr=3e-3, weight_decay=0.0)
    tokens = torch.randint(0, 300, (2, 32), generator=torch.Generator().manual_seed(1))

    def loss() -> torch.Tensor:
        logits = model(tokens, torch.arange(32).expand(2, 32))
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), tokens.flatten())

    first = float(loss().detach())
    for _ in range(20):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert float(loss().detach()) < first - 1.0
    again = loop.make_optimizer(model, "muon", lr=3e-3, weight_decay=0.0)
    again.load_state_dict(opt.state_dict())
    buf = next(iter(opt.muon.state.values()))["momentum_buffer"]
    assert torch.equal(next(iter(again.muon.state.values()))["momentum_buffer"], buf)


@pytest.mark.parametrize("adjust", ["match_rms_adamw", "original"])
def test_fp32_muon_makes_torchs_update_without_bf16(adjust, monkeypatch):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(48, 16)), torch.nn.Parameter(torch.randn(16, 40))]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    start = [p.detach().clone() for p in params]
    kw = dict(lr=0.02, weight_decay=0.1, adjust_lr_fn=adjust)
    ours, theirs = loop.Fp32Muon(params, **kw), torch.optim.Muon(twins, **kw)
    for step in range(3):
        for p, q in zip(params, twins, strict=True):
            p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(step))
            q.grad = p.grad.clone()
        theirs.step()
        # Ours never computes in bf16: where bf16 is emulated that is what costs.
        monkeypatch.setattr(torch.Tensor, "bfloat16", lambda _t: pytest.fail("bf16 used"))
        ours.step()
        monkeypatch.undo()
    for p, q, p0 in zip(params, twins, start, strict=True):
        assert torch.allclose(p, q, atol=2e-3), float((p - q).abs().max())
        assert (p - p0).abs().max() > 2e-2  # far more than the two differ by
    # The state is torch's, so a run's saved optimizer loads into either.
    again = torch.optim.Muon(twins, **kw)
    again.load_state_dict(ours.state_dict())


def test_muon_runs_in_fp32_where_training_does():
    model = _tiny_model()
    assert isinstance(loop.make_optimizer(model, "muon", 1e-3, 0.1, bf16=False).muon, loop.Fp32Muon)
    bf16 = loop.make_optimizer(model, "muon", 1e-3, 0.1, bf16=True).muon
    assert type(bf16) is torch.optim.Muon


def test_an_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        loop.TrainOptions(corpus=("x",), out="y", steps=1, optimizer="sgd")


def _info(run: Path) -> dict:
    return json.loads((run / "model" / "config.json").read_text())["info"]


def test_a_muon_run_resumes_with_muon_and_refuses_another_optimizer(tmp_path, capsys):
    args = tiny_block_ar_args(tmp_path)
    assert main([*args, "--optimizer", "muon", "--steps", "2"]) == 0
    assert _info(tmp_path / "run")["optimizer"] == "muon"
    state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)
    assert state["optimizer_kind"] == "muon" and set(state["optimizer"]) == {"muon", "adamw"}
    capsys.readouterr()
    assert main([*args, "--optimizer", "adamw", "--steps", "4"]) != 0
    assert "trained with --optimizer muon" in capsys.readouterr().err
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)["step"] == 2
    assert main([*args, "--optimizer", "muon", "--steps", "4"]) == 0
    assert "resumed at step 2" in capsys.readouterr().err
    assert _info(tmp_path / "run")["steps"] == 4
