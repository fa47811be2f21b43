"""A document with its language and its tree: what every edit starts from.

Parsed once per document version (by the Language Server incrementally, from the previous
version's tree) and handed down, so the engine never parses the document again; a
candidate is the same document with one span replaced, parsed incrementally from the tree
it was made from.
"""

from __future__ import annotations

from functools import cached_property

from tree_sitter import Tree

from ..document import Document
from ..syntax import LanguageSpec, SyntaxIssue, edit_tree, parse, syntax_issues


class ParsedDocument:
    """`doc` parsed as `lang`; `tree` is never edited (copy it first). Its issues are
    computed on first use. `timeout_s` bounds this parse and every candidate's (`splice`):
    past it they raise `syntax.ParseTimeout`."""

    def __init__(
        self,
        doc: Document,
        lang: LanguageSpec,
        tree: Tree,
        source: bytes | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.doc = doc
        self.lang = lang
        self.tree = tree
        self.timeout_s = timeout_s
        if source is not None:
            self.__dict__["source"] = source

    @classmethod
    def parse(
        cls,
        doc: Document,
        lang: LanguageSpec,
        old_tree: Tree | None = None,
        timeout_s: float | None = None,
    ) -> ParsedDocument:
        """Parse `doc`; `old_tree`: an earlier version's tree edited to match `doc`."""
        source = doc.text.encode("utf-8")
        tree = parse(source, lang, old_tree, timeout_s)
        return cls(doc, lang, tree, source, timeout_s)

    @cached_property
    def source(self) -> bytes:
        """The UTF-8 text the tree was parsed from (without the BOM)."""
        return self.doc.text.encode("utf-8")

    @cached_property
    def issues(self) -> list[SyntaxIssue]:
        return syntax_issues(self.tree, self.lang)

    def copy(self) -> ParsedDocument:
        """The same parse with its own `Tree` object, for use on another thread
        (tree-sitter trees are not shared across threads)."""
        copied = ParsedDocument(self.doc, self.lang, self.tree.copy(), self.source, self.timeout_s)
        if "issues" in self.__dict__:
            copied.__dict__["issues"] = self.issues
        return copied

    def splice(self, start: int, end: int, text: str) -> ParsedDocument:
        """This document with doc.text[start:end] replaced by `text`, parsed incrementally
        from this tree."""
        b_start, b_end = self.doc.byte_offset(start), self.doc.byte_offset(end)
        inserted = text.encode("utf-8")
        source = self.source[:b_start] + inserted + self.source[b_end:]
        tree = self.tree.copy()
        edit_tree(tree, self.source, source, b_start, b_end, b_start + len(inserted))
        doc = self.doc
        spliced = Document(
            doc.text[:start] + text + doc.text[end:], bom=doc.bom, newline=doc.newline
        )
        tree = parse(source, self.lang, tree, self.timeout_s)
        return ParsedDocument(spliced, self.lang, tree, source, self.timeout_s)
