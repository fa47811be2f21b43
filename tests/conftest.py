"""Shared fixtures: the shipped tokenizer and tiny random models (no trained weights)."""

from __future__ import annotations

import pytest
import torch

from diffill.model import DEFAULT_MODEL
from diffill.model.infiller import Infiller
from diffill.model.network import DiffusionLM, ModelConfig, config_for_size
from diffill.model.tokenizer import CodeTokenizer


@pytest.fixture(scope="session")
def tokenizer() -> CodeTokenizer:
    return CodeTokenizer.from_file(DEFAULT_MODEL / "tokenizer.json")


def tiny_model(vocab_size: int, seed: int = 0, **overrides) -> DiffusionLM:
    torch.manual_seed(seed)
    cfg = config_for_size("tiny", vocab_size)
    if overrides:
        cfg = ModelConfig.from_dict({**cfg.to_dict(), **overrides})
    return DiffusionLM(cfg).eval()


@pytest.fixture(scope="session")
def tiny(tokenizer) -> DiffusionLM:
    return tiny_model(tokenizer.vocab_size)


@pytest.fixture(scope="session")
def infiller(tiny, tokenizer) -> Infiller:
    # A small span budget keeps random-length candidates short, so tests stay fast.
    model = tiny_model(tokenizer.vocab_size, span_positions=48)
    return Infiller(model, tokenizer, name="tiny-random")
