"""Every conversion between diffill's domain types and LSP types, in one place.

The engine speaks str offsets into a `Document`, tree-sitter byte offsets and plain
dataclasses; the protocol speaks lines and characters counted in the negotiated position
encoding, and lsprotocol's attrs classes. Positions cross only through `Document`
(`offset_at` / `position_at`), never by string index, so emoji, CJK text, CRLF files and
characters such as U+2028 (which Python's `splitlines` would break on and LSP does not) land
where the editor shows them.

Also here: the server's command names, the argument object of its commands (which
doubles as a code action's `data`), and the payloads of the `diffill/preview` and
`diffill/status` notifications.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeGuard

from lsprotocol import types

from diffill.model import Backend

from ..document import Document, DocumentError, Encoding, Position, TextEdit
from ..editing.request import EditResult, Intent
from ..syntax import SyntaxIssue

DIAGNOSTIC_SOURCE = "diffill"
SYNTAX_ERROR_CODE = "syntax-error"

# Under `diffill.server.`, so they never collide with the commands a client contributes
# itself (the VS Code extension's `diffill.fill` and `diffill.fix`).
COMMAND_INTENTS: dict[str, Intent] = {
    "diffill.server.fill": Intent.FILL,
    "diffill.server.rewrite": Intent.REWRITE,
    "diffill.server.fix": Intent.FIX,
}
INTENT_COMMANDS: dict[Intent, str] = {intent: name for name, intent in COMMAND_INTENTS.items()}

# -- positions -------------------------------------------------------------------------------


def encoding_of(kind: types.PositionEncodingKind | str | None) -> Encoding:
    """The `Encoding` of a negotiated `PositionEncodingKind` (utf-16 when none was)."""
    return Encoding(getattr(kind, "value", kind)) if kind else Encoding.UTF16


def offset_of(doc: Document, pos: types.Position, encoding: Encoding) -> int:
    """The str offset of an LSP position; raises DocumentError for a negative one."""
    return doc.offset_at(Position(pos.line, pos.character), encoding)


def offsets_of(doc: Document, rng: types.Range, encoding: Encoding) -> tuple[int, int]:
    """The str offsets of an LSP range; raises DocumentError when it is backwards."""
    start, end = offset_of(doc, rng.start, encoding), offset_of(doc, rng.end, encoding)
    if end < start:
        raise DocumentError(
            f"the range ends ({rng.end.line}:{rng.end.character}) before it starts "
            f"({rng.start.line}:{rng.start.character})"
        )
    return start, end


def lsp_position(doc: Document, offset: int, encoding: Encoding) -> types.Position:
    pos = doc.position_at(offset, encoding)
    return types.Position(line=pos.line, character=pos.character)


def lsp_range(doc: Document, start: int, end: int, encoding: Encoding) -> types.Range:
    return types.Range(
        start=lsp_position(doc, start, encoding), end=lsp_position(doc, end, encoding)
    )


def text_edits(
    doc: Document, edits: Sequence[TextEdit], encoding: Encoding
) -> list[types.TextEdit]:
    """LSP edits for engine edits; all ranges refer to `doc`, as LSP requires."""
    return [
        types.TextEdit(range=lsp_range(doc, e.start, e.end, encoding), new_text=e.new_text)
        for e in edits
    ]


def workspace_edit(
    uri: str,
    version: int,
    doc: Document,
    edits: Sequence[TextEdit],
    encoding: Encoding,
    *,
    versioned: bool,
) -> types.WorkspaceEdit:
    """The edits as a WorkspaceEdit: a `TextDocumentEdit` carrying the version the edits were
    computed on when the client supports `documentChanges` (it then refuses them on newer
    text), else plain `changes` (the server checked the version just before sending)."""
    lsp_edits = text_edits(doc, edits, encoding)
    if versioned:
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        return types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=identifier, edits=lsp_edits)]
        )
    return types.WorkspaceEdit(changes={uri: lsp_edits})


# -- diagnostics -----------------------------------------------------------------------------


def issue_offsets(doc: Document, issue: SyntaxIssue) -> tuple[int, int]:
    """str offsets of a syntax issue (tree-sitter counts bytes)."""
    return doc.offset_from_byte(issue.start), doc.offset_from_byte(issue.end)


def diagnostic(doc: Document, issue: SyntaxIssue, encoding: Encoding) -> types.Diagnostic:
    start, end = issue_offsets(doc, issue)
    return types.Diagnostic(
        range=lsp_range(doc, start, end, encoding),
        message=issue.message,
        severity=types.DiagnosticSeverity.Error,
        source=DIAGNOSTIC_SOURCE,
        code=SYNTAX_ERROR_CODE,
    )


# -- edit targets: command arguments and code action data ------------------------------------


@dataclass(frozen=True)
class EditTarget:
    """What to edit: the one argument object of `diffill.server.fill|rewrite|fix` and, with
    the intent and the document version added, the `data` of a code action to resolve."""

    uri: str
    range: types.Range
    strength: float = 1.0
    intent: Intent | None = None
    version: int | None = None


def number(value: object) -> TypeGuard[int | float]:
    """A JSON number (bool is not one, though Python says it is an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_UINTEGER_MAX = 2**31 - 1


def _integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _lsp_range_of(value: object, what: str) -> types.Range:
    def position(p: object, name: str) -> types.Position:
        if not isinstance(p, Mapping):
            raise ValueError(f"{what}.{name} must be an object {{line, character}}")
        line, character = p.get("line"), p.get("character")
        if not (_integer(line) and _integer(character)):
            raise ValueError(f"{what}.{name} needs integer line and character")
        if line < 0 or character < 0:
            raise ValueError(f"{what}.{name} must not be negative")
        if max(line, character) > _UINTEGER_MAX:
            raise ValueError(f"{what}.{name} is past LSP's 32-bit positions")
        return types.Position(line=line, character=character)

    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an object {{start, end}}")
    return types.Range(
        start=position(value.get("start"), "start"), end=position(value.get("end"), "end")
    )


def edit_target(value: object, what: str = "argument") -> EditTarget:
    """Parse `{uri, range, strength?, intent?, version?}`; ValueError says what is wrong."""
    if not isinstance(value, Mapping):
        raise ValueError(f"the {what} must be an object {{uri, range, strength?}}")
    uri = value.get("uri")
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"the {what} needs a string 'uri'")
    rng = _lsp_range_of(value.get("range"), f"{what}.range")
    strength = value.get("strength", 1.0)
    if strength is None:
        strength = 1.0
    if not number(strength) or not 0 < strength <= 1:
        raise ValueError(f"{what}.strength must be a number in (0, 1], not {strength!r}")
    intent = value.get("intent")
    if intent is not None:
        if not isinstance(intent, str) or intent not in {i.value for i in INTENT_COMMANDS}:
            raise ValueError(f"{what}.intent {intent!r} is not one of fill, rewrite, fix")
        intent = Intent(intent)
    version = value.get("version")
    if version is not None and not _integer(version):
        raise ValueError(f"{what}.version must be an integer")
    return EditTarget(uri, rng, float(strength), intent, version)


def target_json(target: EditTarget) -> dict[str, Any]:
    r = target.range
    out: dict[str, Any] = {
        "uri": target.uri,
        "range": {
            "start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character},
        },
    }
    if target.strength != 1.0:
        out["strength"] = target.strength
    if target.intent is not None:
        out["intent"] = target.intent.value
    if target.version is not None:
        out["version"] = target.version
    return out


# -- code actions ----------------------------------------------------------------------------

REWRITE_TITLE = "Rewrite selection"
FILL_TITLE = "Fill placeholder"
FIX_TITLE = "Repair syntax error"
_KINDS: dict[Intent, types.CodeActionKind] = {
    Intent.REWRITE: types.CodeActionKind.RefactorRewrite,
    Intent.FILL: types.CodeActionKind.RefactorRewrite,
    Intent.FIX: types.CodeActionKind.QuickFix,
}
_TITLES: dict[Intent, str] = {
    Intent.REWRITE: REWRITE_TITLE,
    Intent.FILL: FILL_TITLE,
    Intent.FIX: FIX_TITLE,
}
CODE_ACTION_KINDS = [types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]


def code_action(
    target: EditTarget,
    diagnostics: Sequence[types.Diagnostic] = (),
    *,
    resolvable: bool,
) -> types.CodeAction:
    """A code action that has not run the model: its `data` says what `codeAction/resolve`
    will compute, or, for clients that cannot resolve an edit, its command computes and
    applies it."""
    assert target.intent is not None and target.version is not None
    intent = target.intent
    action = types.CodeAction(
        title=_TITLES[intent],
        kind=_KINDS[intent],
        diagnostics=list(diagnostics) or None,
        is_preferred=True if intent is Intent.FIX else None,
    )
    if resolvable:
        action.data = target_json(target)
    else:
        plain = replace(target, intent=None, version=None)
        action.command = types.Command(
            title=action.title, command=INTENT_COMMANDS[intent], arguments=[target_json(plain)]
        )
    return action


def wanted(kind: str, only: Sequence[str] | None) -> bool:
    """Whether a code action kind is among those the client asked for (`context.only`)."""
    if not only:
        return True
    return any(kind == k or kind.startswith(k + ".") for k in only)


# -- inline completion -----------------------------------------------------------------------


def inline_items(
    doc: Document, result: EditResult, cursor: int, encoding: Encoding
) -> list[types.InlineCompletionItem]:
    """The completion as an inline item: plain text inserted at the cursor, or with a range
    when it replaces text (which LSP requires to sit on one line)."""
    if not result.changed:
        return []
    if result.start == result.end == cursor:
        return [types.InlineCompletionItem(insert_text=result.replacement)]
    rng = lsp_range(doc, result.start, result.end, encoding)
    if rng.start.line != rng.end.line:
        return []
    return [types.InlineCompletionItem(insert_text=result.replacement, range=rng)]


# -- diffill/preview and diffill/status ------------------------------------------------------


def preview_params(
    uri: str,
    rng: types.Range,
    text: str,
    step: int,
    steps: int | None,
    done: bool,
    phase: str = "denoising",
) -> dict[str, Any]:
    """`diffill/preview`: the span's intermediate text after `step` of at most `steps`
    (None when not known), and what the engine is doing (`phase`: "denoising", "checking
    the result", "repairing a syntax error (attempt 1 of 2)", "done")."""
    return {
        "uri": uri,
        "range": {
            "start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character},
        },
        "text": text,
        "step": step,
        "steps": steps,
        "done": done,
        "phase": phase,
    }


def status_params(
    backend: Backend | None,
    busy: bool,
    problem: str = "",
    loading: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """`diffill/status`: which model, on which device, and whether it is working now;
    while a model loads, `loading` names it and the device asked for ("auto" is said
    as it is: the device is known once it has loaded)."""
    facts = backend.facts if backend is not None else None
    out: dict[str, Any] = {
        "model": facts.name if facts is not None else None,
        "device": (facts.device or None) if facts is not None else None,
        "busy": busy,
    }
    if problem:
        out["error"] = problem
    if loading is not None and facts is None:
        out["loading"] = {"model": loading[0], "device": loading[1]}
    return out
