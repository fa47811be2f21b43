"""Both ends of the LSP end-to-end tests.

Server end (`python -m tests.lsp_harness --model scripted|tiny`): `build_server` with a
small injected model, served over stdio like `diffill serve`.

- `scripted`: a stand-in whose answer is written in the document itself, so tests sharing
  one server never depend on each other's order (tests/scripted_model.py answers in call
  order instead). A line `# out: "<json string>"` in the context is the text it returns;
  it reports `steps` sampler steps (3 by default) through `on_step`, growing the text. A
  `# slow` line makes it denoise until the test opens the gate (creates the file named by
  $DIFFILL_TEST_GATE, which it consumes) or the request is cancelled: cancellation and
  concurrency are tested without timing assumptions. A `# print` line makes it print to
  stdout, which must not reach the protocol stream.
- `tiny`: the tiny random network of tests/conftest.py with the shipped tokenizer;
  `tiny-block`: a tiny random block model (the counts of both are their last result's
  context tokens and how many of them they computed).

Test-only commands: `diffill.test.counts` answers how many times the model ran and how
many runs their cancellation stopped, once the diagnostics in flight are published;
`diffill.test.document` the server's own view of a document (version, text, whether it
lost track of it), which state-sync tests compare with the editor's. `--load` hands the
server a loader instead of the model, as `diffill serve` does, so the model loads after
`initialized`; $DIFFILL_TEST_CLIENT_TIMEOUT_S shortens how long the server waits for
answers to its own requests.

Client end: `Editor`, the editor the tests play: it opens buffers, applies
`workspace/applyEdit` like a real editor (refusing a stale versioned edit, then sending the
change back as incremental `didChange`), and records previews and status notifications.
Its position arithmetic is written independently of the server's `Document`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lsprotocol import types

ROOT = Path(__file__).resolve().parents[1]
GATE_ENV = "DIFFILL_TEST_GATE"
# Seconds the server waits for an answer to its own requests (applyEdit, configuration).
CLIENT_TIMEOUT_ENV = "DIFFILL_TEST_CLIENT_TIMEOUT_S"
MAX_SLOW_STEPS = 1000  # 20 ms each: a test that forgets the gate fails after 20 s


# -- the server end --------------------------------------------------------------------------


class StandIn:
    """A stand-in `Backend` that takes its answers from the document (see the module doc)."""

    def __init__(self, gate: Path | None) -> None:
        from diffill.model import DEFAULT_MODEL
        from diffill.model.tokenizer import CodeTokenizer

        from .scripted_model import stand_in_facts

        self.tokenizer = CodeTokenizer.from_file(DEFAULT_MODEL / "tokenizer.json")
        self.facts = stand_in_facts("stand-in")
        self.max_span_tokens = 255
        self.max_context_tokens = 2048
        self.gate = gate
        self.calls = 0
        self.cancelled = 0  # runs stopped by their cancellation event

    def infill(
        self,
        prefix: str,
        suffix: str = "",
        *,
        middle: str | None = None,
        strength: float = 1.0,
        length: int | None = None,
        repair: Any = None,
        on_step: Callable[..., None] | None = None,
        cancel: Any = None,
        accept: Any = None,
        one_line: bool = False,
        **sampler: Any,
    ) -> Any:
        import torch

        from diffill.model import Cancelled, InfillResult, Step

        self.calls += 1
        context = prefix + "\n" + suffix
        found = re.search(r"^\s*# out: (.*)$", context, re.MULTILINE)
        text = json.loads(found.group(1)) if found else ""
        if one_line:  # as every backend answers a one-line request
            text = text.split("\n", 1)[0]
        slow = _marked(context, "slow")
        if _marked(context, "print"):
            print("a stray print must not reach the protocol stream")
        steps = sampler.get("steps") or 3
        index = 0
        while True:
            if cancel is not None and cancel.is_set():
                self.cancelled += 1
                raise Cancelled()
            index += 1
            shown = text[: len(text) * min(index, steps) // steps]
            if on_step is not None:
                on_step(shown, Step(index, torch.empty(0), max(0, steps - index)))
            if not slow and index >= steps:
                break
            if slow and self._gate_opened():
                break
            if slow and index >= MAX_SLOW_STEPS:
                raise RuntimeError("the test never opened the gate nor cancelled")
            if slow:
                time.sleep(0.02)
        ids = self.tokenizer.encode(text)
        return InfillResult(
            text=text,
            tokens=ids,
            confidence=0.9,
            token_confidence=[0.9] * len(ids),
            steps=index,
            seconds=0.01,
            length=len(ids),
            candidates=[len(ids)],
        )

    # No compiled step and no context kept: nothing to warm.
    reuses_context = False

    def warm_up(self) -> None:
        pass

    def warm_context(self, prefix: str, suffix: str, cancel: Any = None) -> int:
        return 0

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def counts(self) -> dict[str, int]:
        return {"calls": self.calls, "cancelled": self.cancelled}

    def _gate_opened(self) -> bool:
        if self.gate is None or not self.gate.exists():
            return False
        self.gate.unlink()
        return True


def _marked(context: str, word: str) -> bool:
    return re.search(rf"^\s*# {word}\s*$", context, re.MULTILINE) is not None


def recording(backend_class: type) -> type:
    """`backend_class` keeping the context stats of its last result and counting the
    server's context warm-ups (test `counts`)."""

    class Recording(backend_class):  # type: ignore[misc, valid-type]
        last: dict[str, int] = {}  # noqa: RUF012 (one instance per server)
        warm_contexts = 0  # calls of warm_context

        def _run(self, *args: Any, **kwargs: Any) -> Any:
            results = super()._run(*args, **kwargs)
            r = results[0]
            self.last = {"context_tokens": r.context_tokens, "context_computed": r.context_computed}
            return results

        def warm_context(self, prefix: str, suffix: str, cancel: Any = None) -> int:
            self.warm_contexts += 1
            return super().warm_context(prefix, suffix, cancel)

        def counts(self) -> dict[str, int]:
            return {**self.last, "warm_contexts": self.warm_contexts}

    return Recording


def tiny_infiller() -> Any:
    """The tiny random network of conftest.py (v1) with v1's tokenizer."""
    from diffill.model.backends.mdlm import Infiller
    from diffill.model.checkpoint import Checkpoint

    from .conftest import base_tokenizer, tiny_model

    tokenizer = base_tokenizer()
    net = tiny_model(tokenizer.vocab_size, span_positions=48)
    return recording(Infiller)(Checkpoint(net, tokenizer), "tiny-random")


def tiny_block_infiller() -> Any:
    """A tiny random block model."""
    from diffill.model import DEFAULT_MODEL
    from diffill.model.backends.blockdiff import BlockInfiller
    from diffill.model.checkpoint import Checkpoint
    from diffill.model.tokenizer import CodeTokenizer

    from .conftest import tiny_block_model

    tokenizer = CodeTokenizer.from_file(DEFAULT_MODEL / "tokenizer.json").with_fim_tokens()
    layout = {"block_size": 8, "fim_order": "spm"}
    ckpt = Checkpoint(tiny_block_model(tokenizer.vocab_size), tokenizer, layout=layout)
    return recording(BlockInfiller)(ckpt, "tiny-block", max_context_tokens=512, max_span_tokens=24)


def main() -> None:
    import faulthandler
    import signal

    from diffill.server.lsp import build_server, serve

    # Tests that see a hang send SIGUSR1 and read every thread's stack from stderr.
    faulthandler.register(signal.SIGUSR1)

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["scripted", "tiny", "tiny-block"], default="scripted")
    ap.add_argument(
        "--load",
        action="store_true",
        help="give the server a loader (as `diffill serve` does) instead of the model itself",
    )
    args = ap.parse_args()
    gate = os.environ.get(GATE_ENV)
    models = {"tiny": tiny_infiller, "tiny-block": tiny_block_infiller}
    if args.model == "scripted":
        model: Any = StandIn(Path(gate) if gate else None)
    else:
        model = models[args.model]()
    timeouts = {}
    if os.environ.get(CLIENT_TIMEOUT_ENV):
        timeouts["client_timeout_s"] = float(os.environ[CLIENT_TIMEOUT_ENV])
    if args.load:
        server = build_server(loader=lambda folder, **_: model, **timeouts)
    else:
        server = build_server(model, **timeouts)

    @server.command("diffill.test.counts")
    async def counts(*_: str) -> dict[str, int]:
        # Answered once the diagnostics in flight are published: `Editor.round_trip` then
        # means "everything sent before has been handled".
        await server.settled()
        return model.counts() if hasattr(model, "counts") else {}

    # Not `*arguments: object`: pygls would pass the server first (it is an object).
    @server.command("diffill.test.document")
    def document(*arguments: str) -> dict[str, Any] | None:
        """The server's own view of a document: its version, its text (None while the
        server has lost track of it) and why it lost track."""
        (uri,) = arguments
        od = server.documents.get(str(uri))
        if od is None:
            return None
        text = od.doc.text if not od.lost else None
        return {"version": od.version, "text": text, "lost": od.lost}

    sys.exit(serve(server))


def server_command(model: str = "scripted", load: bool = False) -> list[str]:
    return [sys.executable, "-m", "tests.lsp_harness", "--model", model] + (
        ["--load"] if load else []
    )


def server_env(gate: Path | None = None, client_timeout_s: float | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if gate is not None:
        env[GATE_ENV] = str(gate)
    if client_timeout_s is not None:
        env[CLIENT_TIMEOUT_ENV] = str(client_timeout_s)
    return env


# -- the client end --------------------------------------------------------------------------

CLIENTS = ["visual-studio-code", "neovim"]
_LINE = re.compile(r"\r\n|\r|\n")


def plain(value: Any) -> Any:
    """pygls hands custom notifications over as namedtuples; tests compare dicts."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _units(ch: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(ch.encode("utf-8"))
    if encoding == "utf-16":
        return 2 if ord(ch) > 0xFFFF else 1
    return 1


def index_of(text: str, pos: types.Position, encoding: str) -> int:
    """The str index of an LSP position: the test's own arithmetic, not the server's."""
    starts = [0] + [m.end() for m in _LINE.finditer(text)]
    if pos.line >= len(starts):
        return len(text)
    i = starts[pos.line]
    end = starts[pos.line + 1] if pos.line + 1 < len(starts) else len(text)
    units = 0
    while i < end and text[i] not in "\r\n" and units < pos.character:
        units += _units(text[i], encoding)
        i += 1
    return i


def position_of(text: str, index: int, encoding: str) -> types.Position:
    starts = [0] + [m.end() for m in _LINE.finditer(text)]
    line = max(n for n, s in enumerate(starts) if s <= index)
    column = sum(_units(ch, encoding) for ch in text[starts[line] : index])
    return types.Position(line=line, character=column)


def range_of(text: str, start: int, end: int, encoding: str) -> types.Range:
    return types.Range(
        start=position_of(text, start, encoding), end=position_of(text, end, encoding)
    )


class Editor:
    """The editor a test plays (see the module doc)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        client.editor = self  # pytest-lsp fixtures yield the client; tests want the editor
        self.encoding = "utf-16"
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.previews: list[dict] = []
        self.statuses: list[dict] = []
        self._count = 0
        # pygls tags handlers with attributes, which bound methods cannot carry.
        client.feature(types.WORKSPACE_APPLY_EDIT)(lambda params: self._apply_edit(params))
        client.feature("diffill/preview")(lambda params: self.previews.append(plain(params)))
        client.feature("diffill/status")(lambda params: self.statuses.append(plain(params)))

    async def start(
        self,
        capabilities: str | types.ClientCapabilities,
        options: dict | None = None,
        preview: bool = False,
    ) -> types.InitializeResult:
        from pytest_lsp import client_capabilities

        caps = client_capabilities(capabilities) if isinstance(capabilities, str) else capabilities
        if preview:
            caps.experimental = {"diffillPreview": True}
        ready = self.client.protocol.wait_for_notification_async("diffill/status")
        result = await self.client.initialize_session(
            types.InitializeParams(
                capabilities=caps,
                initialization_options={"diffill": {"diagnosticsDelayMs": 0, **(options or {})}},
            )
        )
        kind = result.capabilities.position_encoding or "utf-16"
        self.encoding = getattr(kind, "value", kind)
        await ready  # the server sends its status once settings are in
        return result

    def uri(self, name: str = "doc.py") -> str:
        self._count += 1
        return f"file:///tmp/diffill-lsp/{self._count}/{name}"

    def open(self, text: str, name: str = "doc.py", language: str = "python") -> str:
        uri = self.uri(name)
        self.texts[uri], self.versions[uri] = text, 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
            )
        )
        return uri

    def range(self, uri: str, needle: str, occurrence: int = 0) -> types.Range:
        """The LSP range of the `occurrence`-th `needle` in the buffer."""
        text = self.texts[uri]
        start = -1
        for _ in range(occurrence + 1):
            start = text.index(needle, start + 1)
        return range_of(text, start, start + len(needle), self.encoding)

    def type(self, uri: str, rng: types.Range, new_text: str) -> None:
        """An incremental change, as typing does."""
        text = self.texts[uri]
        a, b = index_of(text, rng.start, self.encoding), index_of(text, rng.end, self.encoding)
        self.texts[uri] = text[:a] + new_text + text[b:]
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[types.TextDocumentContentChangePartial(range=rng, text=new_text)],
            )
        )

    def apply_text_edits(self, uri: str, edits: list[types.TextEdit]) -> str:
        """The buffer after `edits` (all relative to the current text), sent as changes."""
        ordered = sorted(
            edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
        )
        for edit in ordered:
            self.type(uri, edit.range, edit.new_text)
        return self.texts[uri]

    def _apply_edit(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.edits.append(params)
        edit = params.edit
        for change in edit.document_changes or []:
            assert isinstance(change, types.TextDocumentEdit)
            uri = change.text_document.uri
            if change.text_document.version != self.versions.get(uri):
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="stale")
        for change in edit.document_changes or []:
            self.apply_text_edits(change.text_document.uri, list(change.edits))
        for uri, edits in (edit.changes or {}).items():
            self.apply_text_edits(uri, list(edits))
        return types.ApplyWorkspaceEditResult(applied=True)

    async def command(self, name: str, argument: Any, token: str | None = None) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[argument], work_done_token=token)
        )

    def edit_argument(self, uri: str, rng: types.Range, **extra: Any) -> dict:
        r = rng
        return {
            "uri": uri,
            "range": {
                "start": {"line": r.start.line, "character": r.start.character},
                "end": {"line": r.end.line, "character": r.end.character},
            },
            **extra,
        }

    async def code_actions(
        self,
        uri: str,
        rng: types.Range,
        diagnostics: list[types.Diagnostic] | None = None,
        only: list[str] | None = None,
    ) -> list[types.CodeAction]:
        actions = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),
            )
        )
        return list(actions or [])

    async def diagnostics(self, uri: str) -> list[types.Diagnostic] | None:
        """The diagnostics last published for `uri` (None: never), once the server has
        handled everything sent before (with a delay of 0 it publishes right away)."""
        await self.round_trip()
        found = self.client.diagnostics.get(uri)
        return None if found is None else list(found)

    def configure(self, **settings: Any) -> None:
        self.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"diffill": settings})
        )

    async def raw_request(self, method: str, params: Any) -> Any:
        """A request with untyped params: pygls' client serializes lsprotocol types and
        cannot send malformed ones, so the message is written here and pygls is only asked
        to route the answer (its response table is keyed by id)."""
        msg_id = f"raw-{uuid.uuid4()}"
        answer: Future = Future()
        self.client.protocol._request_futures[msg_id] = answer
        self.raw_notify(method, params, msg_id)
        return await asyncio.wrap_future(answer)

    def raw_notify(self, method: str, params: Any, msg_id: str | None = None) -> None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if msg_id is not None:
            message["id"] = msg_id
        body = json.dumps(message).encode("utf-8")
        self.client.protocol.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def counts(self) -> dict[str, int]:
        """The stand-in's counters: model runs and runs stopped by cancellation."""
        return plain(
            await self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="diffill.test.counts", arguments=[])
            )
        )

    async def model_calls(self) -> int:
        return (await self.counts())["calls"]

    async def round_trip(self) -> None:
        """Wait until the server has handled every notification sent before: they are
        handled in order of arrival, before this request."""
        from pygls.exceptions import JsonRpcException

        with contextlib.suppress(JsonRpcException):  # `diffill serve` has no test command
            await self.counts()

    async def wait_for(self, method: str, check: Callable[[Any], bool] | None = None) -> Any:
        """The next notification `method` (that passes `check`)."""
        while True:
            params = await self.client.protocol.wait_for_notification_async(method)
            if check is None or check(params):
                return params


def gate_path(name: str) -> Path:
    """A gate file for one test module's server (see StandIn), closed to begin with."""
    gate = Path(tempfile.gettempdir()) / f"diffill-lsp-gate-{os.getpid()}-{name}"
    gate.unlink(missing_ok=True)
    return gate


def open_gate(gate: Path) -> None:
    gate.write_text("open")


async def denoising(editor: Editor, task: asyncio.Future) -> None:
    """Wait until the slow stand-in is denoising for `task`: a progress report arrives."""
    await editor.wait_for(
        types.PROGRESS, lambda p: isinstance(p.value, dict) and p.value.get("kind") == "report"
    )
    assert not task.done()


if __name__ == "__main__":
    main()
