"""The open documents as the client last described them, and each one's parse.

Every change replaces a document's `OpenDocument` (and its `Document`), so identity says
"still the same version". The last parse of each document is kept with every change since
applied to a copy of its tree (`Tree.edit`), so the next parse is incremental; that parse
is what the code action listing, the diagnostics and the engine all use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lsprotocol import types
from pygls.uris import to_fs_path
from tree_sitter import Tree

from .. import syntax
from ..document import Document, Encoding
from ..editing import engine
from ..editing.parsed import ParsedDocument
from ..editing.request import EditFailure
from .conversions import offsets_of


@dataclass(frozen=True)
class OpenDocument:
    """One open editor buffer, as the client last described it."""

    uri: str
    version: int
    language_id: str
    doc: Document
    lang: syntax.LanguageSpec | None  # None: no grammar for it; `unsupported` says why
    unsupported: str = ""


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


def edit_tree(
    tree: Tree, old: Document, new: Document, start: int, old_end: int, new_end: int
) -> None:
    """Tell a tree parsed from `old` about one text change, given in str offsets."""
    syntax.edit_tree(
        tree,
        old.text.encode("utf-8"),
        new.text.encode("utf-8"),
        old.byte_offset(start),
        old.byte_offset(old_end),
        new.byte_offset(new_end),
    )


class Documents:
    """The open documents by uri, their last parse, and that parse's tree edited to match
    the current text. Used on the event loop."""

    def __init__(self) -> None:
        self._open: dict[str, OpenDocument] = {}
        self._parsed: dict[str, ParsedDocument] = {}
        self._edited: dict[str, Tree] = {}  # the last parse's tree, with every change since

    def get(self, uri: str) -> OpenDocument | None:
        return self._open.get(uri)

    def uris(self) -> list[str]:
        return list(self._open)

    def open(self, item: types.TextDocumentItem) -> OpenDocument:
        lang, why = _language(item.uri, item.language_id)
        od = OpenDocument(item.uri, item.version, item.language_id, Document(item.text), lang, why)
        self._open[item.uri] = od
        self._parsed.pop(item.uri, None)
        self._edited.pop(item.uri, None)
        return od

    def change(
        self, od: OpenDocument, params: types.DidChangeTextDocumentParams, encoding: Encoding
    ) -> OpenDocument:
        """Apply the changes (raises DocumentError for a bad range) and edit the tree."""
        doc = od.doc
        tree = self._edited.pop(od.uri, None)
        if tree is None:
            last = self._parsed.get(od.uri)
            # A copy: the last parse keeps its own tree intact (the engine may be using it).
            tree = last.tree.copy() if last is not None and last.doc is doc else None
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                # Each change's range refers to the text after the changes before it.
                start, end = offsets_of(doc, change.range, encoding)
                new_doc = Document(doc.text[:start] + change.text + doc.text[end:])
                if tree is not None:
                    edit_tree(tree, doc, new_doc, start, end, start + len(change.text))
                doc = new_doc
            else:
                doc = Document(change.text)
                tree = None
        if tree is not None:
            self._edited[od.uri] = tree
        od = replace(od, version=params.text_document.version, doc=doc)
        self._open[od.uri] = od
        return od

    def close(self, uri: str) -> None:
        self._open.pop(uri, None)
        self._parsed.pop(uri, None)
        self._edited.pop(uri, None)

    def parsed(self, od: OpenDocument) -> ParsedDocument | None:
        """The parse of this version (None for a language without a grammar), parsed now
        if it was not yet: incrementally when an earlier version was parsed."""
        if od.lang is None:
            return None
        last = self._parsed.get(od.uri)
        if last is not None and last.doc is od.doc:
            return last
        old_tree = self._edited.pop(od.uri, None)
        parsed = self._parsed[od.uri] = ParsedDocument.parse(od.doc, od.lang, old_tree)
        return parsed
