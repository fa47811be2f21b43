"""The open documents as the client last described them, and each one's parse.

Every change replaces a document's `OpenDocument` (and its `Document`), so identity says
"still the same version". This module alone applies the client's changes: with LSP's
rules (lines end at \\n, \\r\\n and \\r only; a character past a line's end means its end),
never through a second copy of the text that could disagree.

A change that cannot be applied (a backwards range, a lone surrogate, a version that does
not increase) leaves the server not knowing the text: the document is then *lost* (its
`lost` says why), every later incremental change only moves its version on, and nothing
is offered for it until a change carrying the whole text arrives. A document too large for
diffill (`MAX_DOCUMENT_BYTES`) is kept the same way, text unknown, without any work.

Parsing runs on one thread of its own (`parsed` is awaited), bounded by
`PARSE_TIMEOUT_S`, so neither a large file nor tree-sitter's slow cases hold up the event
loop. Each parse starts from the last finished parse's tree with every change since
applied to a copy of it (`Tree.edit`), so it is incremental: the parse follows the last
change *received*, never the last one parsed. That parse is what the code action listing,
the diagnostics and the engine all use.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from lsprotocol import types
from pygls.uris import to_fs_path
from tree_sitter import Tree

from .. import syntax
from ..document import Document, DocumentError, Encoding
from ..editing import engine
from ..editing.parsed import ParsedDocument
from ..editing.request import EditFailure
from .conversions import offsets_of

log = logging.getLogger("diffill.lsp")

# Beyond this a document gets a message and no work: parsing alone would take seconds.
MAX_DOCUMENT_BYTES = 8_000_000
# An interactive bound; the CLI allows its files longer (cli.edit_commands).
PARSE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class OpenDocument:
    """One open editor buffer, as the client last described it."""

    uri: str
    version: int
    language_id: str
    doc: Document
    lang: syntax.LanguageSpec | None  # None: nothing to parse it with; `unsupported` says why
    unsupported: str = ""  # why diffill offers nothing for it (no grammar, too large)
    lost: str = ""  # why the server no longer knows its text (then `doc` is stale)
    text_known: bool = True  # False when lost or too large: incremental changes cannot apply

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]


class Stale(Exception):
    """The document changed (or closed) while its parse was awaited."""


# The open documents as they were when the request being handled arrived. pygls starts an
# async handler a loop turn later, after the messages that came with it in one read (a
# didChange among them); a request is about the text it was sent on, so handlers look
# documents up here first (`DiffillServer.document`). Set per request by the protocol.
ARRIVAL: contextvars.ContextVar[dict[str, OpenDocument] | None] = contextvars.ContextVar(
    "arrival", default=None
)


def _language(uri: str, language_id: str) -> tuple[syntax.LanguageSpec | None, str]:
    """The languageId decides; a file name is the fallback for ids the registry does not
    know (a client may send "plaintext" for a .py buffer it has no mode for)."""
    try:
        return engine.language_of(None, language_id), ""
    except EditFailure as failed:
        try:
            return engine.language_of(to_fs_path(uri), None), ""
        except EditFailure:
            return None, failed.result.reason


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def too_large(text: str, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """Why `text` is too large for diffill, or ""."""
    if len(text) <= limit // 4:  # at most 4 bytes a character: certainly within
        return ""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= limit:
        return ""
    return f"too large for diffill ({_megabytes(size)} > {_megabytes(limit)} limit)"


def _byte_point(text: str, offset: int) -> tuple[int, tuple[int, int]]:
    """The UTF-8 byte offset of a str offset, and its tree-sitter point (rows counted at
    "\\n" alone, columns in bytes). C-speed scans: no line table is built per change."""
    line_start = text.rfind("\n", 0, offset) + 1
    if text.isascii():
        return offset, (text.count("\n", 0, offset), offset - line_start)
    column = len(text[line_start:offset].encode("utf-8"))
    return len(text[:offset].encode("utf-8")), (text.count("\n", 0, offset), column)


@dataclass(frozen=True)
class _Edit:
    """One change as tree-sitter's `Tree.edit` takes it (computed when it arrives, so no
    text is kept for it)."""

    start_byte: int
    old_end_byte: int
    new_end_byte: int
    start_point: tuple[int, int]
    old_end_point: tuple[int, int]
    new_end_point: tuple[int, int]

    @classmethod
    def of(cls, old: str, new: str, start: int, old_end: int, new_end: int) -> _Edit:
        start_byte, start_point = _byte_point(old, start)
        old_end_byte, old_end_point = _byte_point(old, old_end)
        new_end_byte, new_end_point = _byte_point(new, new_end)
        return cls(
            start_byte, old_end_byte, new_end_byte, start_point, old_end_point, new_end_point
        )

    def apply_to(self, tree: Tree) -> None:
        tree.edit(
            start_byte=self.start_byte,
            old_end_byte=self.old_end_byte,
            new_end_byte=self.new_end_byte,
            start_point=self.start_point,
            old_end_point=self.old_end_point,
            new_end_point=self.new_end_point,
        )


def edit_tree(
    tree: Tree, old: Document, new: Document, start: int, old_end: int, new_end: int
) -> None:
    """Tell a tree parsed from `old` about one text change, given in str offsets."""
    _Edit.of(old.text, new.text, start, old_end, new_end).apply_to(tree)


# Past this many changes without a parse, the next parse starts afresh (a full parse of a
# normal file takes milliseconds; the list must not grow without end).
_MAX_EDITS = 4096


@dataclass
class _Parses:
    """One document's parses: the last finished one and the changes made since."""

    base: ParsedDocument | None = None
    edits: list[_Edit] = field(default_factory=list)
    epoch: int = 0  # moves on when the whole text is replaced (the edits start over)
    running: asyncio.Future | None = None
    slow_at: int = 0  # a parse of a text this long timed out: not tried again until shorter
    slow_reason: str = ""


class Documents:
    """The open documents by uri and their parses. Used on the event loop; parses run on
    one thread of their own."""

    def __init__(
        self,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        parse_timeout_s: float = PARSE_TIMEOUT_S,
    ) -> None:
        self._open: dict[str, OpenDocument] = {}
        self._parses: dict[str, _Parses] = {}
        self.max_bytes = max_bytes
        self.parse_timeout_s = parse_timeout_s
        self._pool: ThreadPoolExecutor | None = None

    def get(self, uri: str) -> OpenDocument | None:
        return self._open.get(uri)

    def snapshot(self) -> dict[str, OpenDocument]:
        """The open documents now (a copy: changes replace entries, never mutate them)."""
        return dict(self._open)

    def uris(self) -> list[str]:
        return list(self._open)

    # -- the client's changes ----------------------------------------------------------------

    def open(self, item: types.TextDocumentItem) -> OpenDocument:
        lang, why = _language(item.uri, item.language_id)
        base = OpenDocument(item.uri, item.version, item.language_id, Document(""), lang, why)
        od = self._with_text(base, item.text)
        self._open[item.uri] = od
        self._parses[item.uri] = _Parses()
        return od

    def _with_text(self, od: OpenDocument, text: str) -> OpenDocument:
        """`od` holding the whole `text` (a didOpen, a full change): known again, unless
        it is too large or cannot be a document."""
        lang, unsupported = _language(od.uri, od.language_id)
        big = too_large(text, self.max_bytes)
        if big:
            return replace(
                od, doc=Document(""), lang=None, unsupported=big, lost="", text_known=False
            )
        try:
            doc = Document(text)
        except DocumentError as err:
            return replace(od, doc=Document(""), lost=str(err), text_known=False)
        return replace(od, doc=doc, lang=lang, unsupported=unsupported, lost="", text_known=True)

    def change(
        self, od: OpenDocument, params: types.DidChangeTextDocumentParams, encoding: Encoding
    ) -> OpenDocument:
        """Apply the changes; a change that cannot be applied makes the document lost."""
        version = params.text_document.version
        state = self._parses.setdefault(od.uri, _Parses())
        if version <= od.version:  # refused, whatever it carries (LSP: versions increase)
            new = replace(
                od,
                version=version,
                lost=f"the change to version {version} does not come after version {od.version}",
                text_known=False,
                doc=Document(""),
            )
            return self._replace(new, state)
        current = od
        edits: list[_Edit] = []
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangeWholeDocument):
                current = self._with_text(current, change.text)
                edits = []
                state.epoch += 1  # no tree to edit: the next parse starts afresh
                state.base, state.edits = None, []
                continue
            if not current.text_known:
                continue  # the text is unknown: a range into it means nothing
            doc = current.doc
            try:
                start, end = offsets_of(doc, change.range, encoding)
                new_doc = Document(doc.text[:start] + change.text + doc.text[end:])
            except DocumentError as err:
                current = replace(
                    current,
                    doc=Document(""),
                    lost=f"a change could not be applied: {err}",
                    text_known=False,
                )
                continue
            big = too_large(new_doc.text, self.max_bytes)
            if big:
                current = replace(
                    current, doc=Document(""), lang=None, unsupported=big, text_known=False
                )
                continue
            edits.append(_Edit.of(doc.text, new_doc.text, start, end, start + len(change.text)))
            current = replace(current, doc=new_doc)
        new = replace(current, version=version)
        if new.text_known:
            state.edits.extend(edits)
            if len(state.edits) > _MAX_EDITS:
                state.epoch += 1
                state.base, state.edits = None, []
        return self._replace(new, state)

    def _replace(self, new: OpenDocument, state: _Parses) -> OpenDocument:
        if not new.text_known:
            state.epoch += 1
            state.base, state.edits = None, []
        self._open[new.uri] = new
        return new

    def close(self, uri: str) -> None:
        self._open.pop(uri, None)
        self._parses.pop(uri, None)

    # -- parsing -----------------------------------------------------------------------------

    def cached(self, od: OpenDocument) -> ParsedDocument | None:
        """This version's parse if it is done (never starts one)."""
        state = self._parses.get(od.uri)
        base = state.base if state is not None else None
        return base if base is not None and base.doc is od.doc else None

    async def parsed(self, od: OpenDocument) -> ParsedDocument | str:
        """The parse of this version, parsed now on the parse thread if it was not yet;
        or why there is none (no grammar, too large, lost, parsing too slow). Raises Stale
        when the document changes or closes before its parse is done."""
        while True:
            if od.lost:
                return od.lost
            if od.lang is None or not od.text_known:
                return od.unsupported or "unsupported language"
            state = self._parses.get(od.uri)
            if state is None or self._open.get(od.uri) is not od:
                raise Stale()
            if state.base is not None and state.base.doc is od.doc:
                return state.base
            if state.slow_at and len(od.doc.text) >= state.slow_at:
                return state.slow_reason
            if state.running is None:
                state.running = self._start(od, state)
            await asyncio.shield(state.running)

    def _start(self, od: OpenDocument, state: _Parses) -> asyncio.Future:
        assert od.lang is not None
        base, edits, epoch = state.base, list(state.edits), state.epoch
        tree = base.tree.copy() if base is not None else None  # one tree per thread
        lang, timeout = od.lang, self.parse_timeout_s
        doc = od.doc

        def work() -> ParsedDocument:  # on the parse thread
            if tree is not None:
                for edit in edits:
                    edit.apply_to(tree)
            parsed = ParsedDocument.parse(doc, lang, tree, timeout)
            parsed.issues  # noqa: B018 - computed here, off the event loop
            return parsed

        async def run() -> None:
            # The state is updated inside the task, so a finished task means an updated
            # state: a waiter that sees it done never spins on a future whose callbacks
            # have not run yet.
            try:
                parsed = await asyncio.get_running_loop().run_in_executor(self._executor(), work)
            except syntax.ParseTimeout as err:
                if state.epoch == epoch:
                    state.slow_at, state.slow_reason = len(doc.text), str(err)
                return
            except Exception as err:  # a parse must fail its document alone
                log.error("parsing failed: %s", err)
                if state.epoch == epoch:
                    state.slow_at, state.slow_reason = len(doc.text), f"parsing failed: {err}"
                return
            finally:
                state.running = None
            if state.epoch != epoch:
                return  # the whole text was replaced meanwhile: this parse is of no use
            state.base = parsed
            state.edits = state.edits[len(edits) :]
            state.slow_at, state.slow_reason = 0, ""

        return asyncio.ensure_future(run())

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffill-parse")
        return self._pool

    def stop(self) -> None:
        """No more parses (the session ends); a running one ends within its bound."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
