from __future__ import annotations

import pytest
import torch

from diffill.model.backends.transformer import (
    DiffusionLM,
    ModelConfig,
    config_for_size,
    group_mask,
)

from .conftest import tiny_model


def test_named_sizes_have_the_promised_parameter_counts():
    assert DiffusionLM(config_for_size("tiny", 8192)).num_parameters() < 2_000_000
    small = DiffusionLM(config_for_size("small", 8192)).num_parameters()
    assert 15_000_000 <= small <= 32_000_000


def test_unknown_size_and_bad_configs_are_refused():
    with pytest.raises(ValueError, match="unknown model size"):
        config_for_size("huge", 100)
    with pytest.raises(AssertionError):
        ModelConfig(dim=100, n_heads=3)
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"dim": 128, "flux_capacitor": 1})


def test_config_from_older_dict_fills_defaults():
    cfg = ModelConfig.from_dict({"vocab_size": 500, "dim": 64, "n_heads": 2})
    assert cfg.rope_theta == ModelConfig().rope_theta
    assert cfg.vocab_size == 500


def test_group_mask_roles():
    groups = torch.tensor([[0, 0, 1, 1, 10001, -1]])
    m = group_mask(groups)[0, 0]
    assert m[0].tolist() == [True, True, False, False, False, False]  # context: context only
    assert m[2].tolist() == [True, True, True, True, False, False]  # canvas: context + itself
    assert m[4].tolist() == [True, True, False, False, True, False]  # probe: context + self
    assert m[5].tolist() == [False, False, False, False, False, True]  # padding: self only


def test_context_encoding_does_not_depend_on_the_canvas():
    model = tiny_model(300)
    ctx = torch.randint(0, 300, (1, 10))
    pos = torch.arange(14)[None]
    groups = torch.tensor([[0] * 10 + [1] * 4])
    a = torch.cat((ctx, torch.randint(0, 300, (1, 4))), 1)
    b = torch.cat((ctx, torch.randint(0, 300, (1, 4))), 1)
    ha, _ = model.hidden(a, pos, group_mask(groups))
    hb, _ = model.hidden(b, pos, group_mask(groups))
    torch.testing.assert_close(ha[:, :10], hb[:, :10])
    assert not torch.allclose(ha[:, 10:], hb[:, 10:])


def test_rotary_attention_depends_only_on_relative_position():
    model = tiny_model(300)
    tokens = torch.randint(0, 300, (1, 8))
    h1, _ = model.hidden(tokens, torch.arange(8)[None])
    h2, _ = model.hidden(tokens, torch.arange(8)[None] + 1000)
    torch.testing.assert_close(h1, h2, atol=2e-4, rtol=1e-3)


def test_output_embedding_is_tied():
    model = tiny_model(300)
    h = torch.randn(2, 3, model.cfg.dim)
    torch.testing.assert_close(model.token_logits(h), h @ model.embed.weight.T)
    assert model.length_logits(h).shape == (2, 3, model.cfg.span_positions)
