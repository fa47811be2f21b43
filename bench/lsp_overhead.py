"""What the Language Server adds to an edit: p50/p95 latency of a one-line and a ten-line
rewrite through `diffill serve` (stdio JSON-RPC: executeCommand, progress, the applyEdit
round trip) against the same rewrite through the engine in this process, with the same
model and settings (so both compute exactly the same thing). Also the latency of listing
code actions in a 5,000-line file, which must not wait for the model.

    python -m bench.lsp_overhead [--model DIR] [--device cpu] [--repeats N] [--steps S]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from diffill.model import Backend, load
from diffill.server.document import Document, Encoding
from diffill.server.editing import engine
from diffill.server.editing.parsed import ParsedDocument
from diffill.server.editing.request import EditFailure, EditRequest, Intent
from diffill.server.editing.targets import target_span
from diffill.server.lsp.conversions import lsp_range
from diffill.server.lsp.settings import Settings

from .infill_latency import percentile
from .machine import save

SOURCE = Path(argparse.__file__)  # a real, long stdlib file as the document
SPAN_TOKENS = 150  # under the engine's 192-token span limit, with room for the model
PAUSE_S = 0.5  # longer than the default diagnostics delay (300 ms): the parse is cached


def find_span(doc: Document, infiller: Backend, lines: int) -> tuple[int, int]:
    """A selection of `lines` whole lines of simple statements (after snapping to
    statements) somewhere past the file's first third, short enough for the model."""
    parsed = ParsedDocument.parse(doc, engine.language_of(str(SOURCE), None))
    limit = min(SPAN_TOKENS, infiller.max_span_tokens - 8)
    starts = doc.line_starts()
    for first in range(len(starts) // 3, len(starts) - lines):
        last = first + lines - 1
        a = starts[first] + len(doc.line_indent(first))
        b = starts[last] + len(doc.line_text(last))
        if not doc.line_indent(first) or not doc.text[a:b].strip():
            continue
        request = EditRequest(Intent.REWRITE, a, b)
        try:
            s, e = target_span(parsed, request, snap=True)
        except EditFailure:
            continue
        text = doc.text[s:e]
        if text.count("\n") == lines - 1 and infiller.count_tokens(text) <= limit:
            return s, e
    raise SystemExit(f"no {lines}-line span of simple statements in {SOURCE}")


def direct(
    infiller: Any, doc: Document, span: tuple[int, int], settings: Settings, repeats: int
) -> list[float]:
    lang = engine.language_of(str(SOURCE), None)
    options = settings.edit_options()
    request = EditRequest(Intent.REWRITE, *span)
    engine.edit(ParsedDocument.parse(doc, lang), request, infiller, options)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()  # the parse counts: the server's is cached, this one not
        engine.edit(ParsedDocument.parse(doc, lang), request, infiller, options)
        times.append(time.perf_counter() - t0)
    return times


class Session:
    """A client driving `diffill serve` over stdio, answering what an editor answers."""

    def __init__(self) -> None:
        self.client = LanguageClient("diffill-bench", "1")
        self.ready = asyncio.Event()
        self.applied = 0
        # pygls tags handlers with attributes; lambdas can carry them.
        self.client.feature(types.WORKSPACE_APPLY_EDIT)(lambda params: self._apply(params))
        self.client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)(lambda params: None)
        for method in (types.PROGRESS, types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE):
            self.client.feature(method)(lambda params: None)
        self.client.feature("diffill/status")(lambda params: self._status(params))

    def _apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        # Accept without changing the buffer, so every repeat edits the same text.
        self.applied += 1
        return types.ApplyWorkspaceEditResult(applied=True)

    def _status(self, params: Any) -> None:
        if getattr(params, "model", None) and not params.busy:
            self.ready.set()
        if getattr(params, "error", None):
            raise SystemExit(f"the server could not load the model: {params.error}")

    async def start(self, model: str | None, device: str, settings: dict[str, Any]) -> None:
        command = [sys.executable, "-m", "diffill.server.cli", "serve", "--device", device]
        if model:
            command += ["--model", model]
        await self.client.start_io(*command)
        caps = types.ClientCapabilities(
            workspace=types.WorkspaceClientCapabilities(
                apply_edit=True,
                workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
            ),
            window=types.WindowClientCapabilities(work_done_progress=True),
        )
        await self.client.initialize_async(
            types.InitializeParams(capabilities=caps, initialization_options={"diffill": settings})
        )
        self.client.initialized(types.InitializedParams())
        await self.ready.wait()

    def open(self, text: str) -> str:
        uri = f"file:///bench/{uuid.uuid4()}/{SOURCE.name}"
        item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(item))
        return uri

    async def rewrite(self, uri: str, rng: types.Range) -> Any:
        argument = {
            "uri": uri,
            "range": {
                "start": {"line": rng.start.line, "character": rng.start.character},
                "end": {"line": rng.end.line, "character": rng.end.character},
            },
        }
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="diffill.server.rewrite", arguments=[argument])
        )

    async def list_actions(self, uri: str, rng: types.Range) -> Any:
        return await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )

    def touch(self, uri: str, version: int) -> None:
        """A one-character edit at the end, so the next listing parses afresh."""
        rng = types.Range(start=types.Position(10**6, 0), end=types.Position(10**6, 0))
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=rng, text=" ")],
            )
        )

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


async def through_server(
    args: argparse.Namespace, doc: Document, spans: dict[str, tuple[int, int]], big: Document
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    session = Session()
    await session.start(args.model, args.device, {"steps": args.steps} if args.steps else {})
    try:
        uri = session.open(doc.text)
        times: dict[str, list[float]] = {}
        for name, (a, b) in spans.items():
            rng = lsp_range(doc, a, b, Encoding.UTF16)
            await session.rewrite(uri, rng)  # warm-up
            times[name] = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                result = await session.rewrite(uri, rng)
                times[name].append(time.perf_counter() - t0)
            print(f"  server {name}: last result {result}", file=sys.stderr)
        big_uri = session.open(big.text)
        at = big.text.index("def parse_known_args")
        rng = lsp_range(big, at, at + len("def parse_known_args"), Encoding.UTF16)
        listing: dict[str, list[float]] = {"after an edit": [], "after a pause": []}
        for version in range(2, args.repeats + 2):
            # Right after a change the listing parses the file itself; once the
            # diagnostics delay has passed it finds the parse cached.
            session.touch(big_uri, version)
            for case in listing:
                if case == "after a pause":
                    await asyncio.sleep(PAUSE_S)
                t0 = time.perf_counter()
                await session.list_actions(big_uri, rng)
                listing[case].append(time.perf_counter() - t0)
        return times, listing
    finally:
        await session.stop()


def ms(xs: list[float], q: float) -> float:
    return round(1000 * (statistics.median(xs) if q == 0.5 else percentile(xs, q)), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--steps", type=int, help="fixed denoising steps (default: the threshold)")
    args = ap.parse_args()
    if args.repeats < 1 or (args.steps is not None and args.steps < 1):
        ap.error("--repeats and --steps must be at least 1")
    settings = Settings(steps=args.steps)

    infiller = load(args.model, device=args.device)
    doc = Document(SOURCE.read_text(encoding="utf-8"))
    spans = {"one line": find_span(doc, infiller, 1), "ten lines": find_span(doc, infiller, 10)}
    lines = doc.text.splitlines(keepends=True)
    big = Document("".join((lines * (5000 // len(lines) + 1))[:5000]))

    direct_times = {
        name: direct(infiller, doc, span, settings, args.repeats) for name, span in spans.items()
    }
    print("engine done; now through the server", file=sys.stderr)
    server_times, listing = asyncio.run(through_server(args, doc, spans, big))

    rows = []
    print(f"{'case':<12}{'engine p50':>12}{'p95':>9}{'server p50':>12}{'p95':>9}{'overhead':>10}")
    for name in spans:
        d, s = direct_times[name], server_times[name]
        row = {
            "case": name,
            "engine_p50_ms": ms(d, 0.5),
            "engine_p95_ms": ms(d, 0.95),
            "server_p50_ms": ms(s, 0.5),
            "server_p95_ms": ms(s, 0.95),
        }
        row["overhead_p50_pct"] = round(
            100 * (row["server_p50_ms"] - row["engine_p50_ms"]) / row["engine_p50_ms"], 1
        )
        rows.append(row)
        print(
            f"{name:<12}{row['engine_p50_ms']:>10.1f}ms{row['engine_p95_ms']:>7.1f}ms"
            f"{row['server_p50_ms']:>10.1f}ms{row['server_p95_ms']:>7.1f}ms"
            f"{row['overhead_p50_pct']:>9.1f}%"
        )
    listing_rows = []
    for case, xs in listing.items():
        listing_rows.append({"case": case, "p50_ms": ms(xs, 0.5), "p95_ms": ms(xs, 0.95)})
        print(
            f"code actions in a {big.line_count()}-line file, {case}: "
            f"p50 {ms(xs, 0.5)} ms, p95 {ms(xs, 0.95)} ms"
        )
    path = save(
        "lsp_overhead",
        {
            "model": str(infiller.facts.folder),
            "device": args.device,
            "repeats": args.repeats,
            "steps": args.steps,
            "rows": rows,
            "code_action_listing": {"lines": big.line_count(), "rows": listing_rows},
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
