"""Shared fixtures: the shipped tokenizer and tiny random models (no trained weights)."""

from __future__ import annotations

import pytest
import pytest_lsp
import torch
from pytest_lsp import ClientServerConfig, LanguageClient

from diffill.model import DEFAULT_MODEL
from diffill.model.backends.mdlm import Infiller
from diffill.model.backends.transformer import DiffusionLM, ModelConfig, config_for_size
from diffill.model.tokenizer import CodeTokenizer

from .lsp_harness import CLIENTS, Editor, server_command, server_env


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


# -- Language Server tests (pytest-lsp) -------------------------------------------------------
# A test module that needs another server or start-up defines its own `client`; `editor` is
# the same everywhere.


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=server_command(), server_env=server_env()),
    scope="module",
    params=CLIENTS,
)
async def client(lsp_client: LanguageClient, request):
    """The real server with the shipped model, once as VS Code and once as Neovim start it."""
    await Editor(lsp_client).start(request.param)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def editor(client: LanguageClient) -> Editor:
    return client.editor
