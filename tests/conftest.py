"""Shared fixtures: the shipped tokenizer, tiny random models (no trained weights), and the
Language Server tests' `client` and `editor`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import pytest_lsp
import torch
from pytest_lsp import ClientServerConfig, LanguageClient
from tokenizers import Tokenizer

from diffill.model import DEFAULT_MODEL
from diffill.model.backends.mdlm import Infiller
from diffill.model.backends.transformer import DiffusionLM, ModelConfig, config_for_size
from diffill.model.checkpoint import Checkpoint
from diffill.model.fim import FIM_SPECIAL_TOKENS
from diffill.model.tokenizer import CodeTokenizer

from .lsp_harness import CLIENTS, Editor, gate_path, server_command, server_env


def base_tokenizer() -> CodeTokenizer:
    """The shipped tokenizer without the block model's FIM sentinels, as v1 shipped it:
    the tiny v1-family networks of the tests keep one vocabulary whichever family ships."""
    data = json.loads((DEFAULT_MODEL / "tokenizer.json").read_text())
    data["added_tokens"] = [
        t for t in data["added_tokens"] if t["content"] not in FIM_SPECIAL_TOKENS
    ]
    return CodeTokenizer(Tokenizer.from_str(json.dumps(data)))


@pytest.fixture(scope="session")
def tokenizer() -> CodeTokenizer:
    return base_tokenizer()


def tiny_model(vocab_size: int, seed: int = 0, **overrides) -> DiffusionLM:
    torch.manual_seed(seed)
    cfg = config_for_size("tiny", vocab_size)
    if overrides:
        cfg = ModelConfig.from_dict({**cfg.to_dict(), **overrides})
    return DiffusionLM(cfg).eval()


def tiny_block_model(vocab_size: int, seed: int = 0) -> DiffusionLM:
    """A tiny random network for the block model (which has no length head)."""
    return tiny_model(vocab_size, seed, length_head=False)


@contextmanager
def logits_nudged(model: DiffusionLM, nudge: Callable[[torch.Tensor], None]) -> Iterator[None]:
    """`model` with `nudge` applied in place to every logits tensor it computes (a tiny
    network scripted to write what a test needs); the network's own method comes back."""
    original = model.token_logits

    def token_logits(h):
        out = original(h)
        nudge(out)
        return out

    model.token_logits = token_logits
    try:
        yield
    finally:
        del model.token_logits


def four_backends(canvas_class: type[Infiller]) -> dict:
    """Factories of one tiny backend of each decoding kind: masked diffusion (as
    `canvas_class`, an `Infiller` that scripts its canvases), the AR peer, and the block
    model with blocks of 8 and of 1; each writes at most 40 tokens freely."""
    from diffill.model.backends.autoregressive import ARInfiller
    from diffill.model.backends.blockdiff import BlockInfiller

    tok = base_tokenizer()
    block_tok = tok.with_fim_tokens()
    layout = {"fim_order": "spm", "context_tokens": 512}

    def block(size):
        model = tiny_block_model(block_tok.vocab_size, seed=1)
        ckpt = Checkpoint(model, block_tok, layout={**layout, "block_size": size})
        return BlockInfiller(ckpt, max_span_tokens=40)

    return {
        "masked diffusion": lambda: canvas_class(
            Checkpoint(tiny_model(tok.vocab_size, span_positions=48), tok)
        ),
        "autoregressive": lambda: ARInfiller(
            Checkpoint(tiny_model(tok.vocab_size, seed=4, causal=True), tok), max_new_tokens=40
        ),
        "block of 8": lambda: block(8),
        "block of 1": lambda: block(1),
    }


class CancelAfter:
    """A cancellation handle that trips after `n` checks."""

    def __init__(self, n: int) -> None:
        self.n = n

    def is_set(self) -> bool:
        self.n -= 1
        return self.n < 0


@pytest.fixture(scope="session")
def tiny(tokenizer) -> DiffusionLM:
    return tiny_model(tokenizer.vocab_size)


@pytest.fixture(scope="session")
def infiller(tiny, tokenizer) -> Infiller:
    # A small span budget keeps random-length candidates short, so tests stay fast.
    model = tiny_model(tokenizer.vocab_size, span_positions=48)
    return Infiller(Checkpoint(model, tokenizer), name="tiny-random")


# -- Language Server tests (pytest-lsp) -------------------------------------------------------
# `client` runs the scripted stand-in (lsp_harness.StandIn) behind the real server, once
# per editor a module lists in EDITORS (default: VS Code and Neovim). A module whose
# server or start-up differs defines its own `client` and says how; `editor` is the same
# everywhere.

GATE = gate_path("scripted")  # opened by tests to let a `# slow` document finish


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "client" in metafunc.fixturenames and not hasattr(metafunc.module, "client"):
        editors = getattr(metafunc.module, "EDITORS", CLIENTS)
        metafunc.parametrize("client", editors, indirect=True, scope="module")


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=server_command(), server_env=server_env(GATE)),
    scope="module",
)
async def client(lsp_client: LanguageClient, request):
    """The scripted stand-in behind the real server over stdio, with the default settings,
    started as the editor `request.param` (a pytest-lsp client name) starts it."""
    GATE.unlink(missing_ok=True)  # closed, whatever the module before left
    await Editor(lsp_client).start(request.param)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def editor(client: LanguageClient) -> Editor:
    return client.editor
