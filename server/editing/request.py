"""What an edit is asked and what it answers: the intent and range, the engine's options
(with the one place a speed preset is merged with explicit sampler settings), the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from diffill.model.sampler import PRESETS

from ..document import TextEdit


class Intent(str, Enum):
    FILL = "fill"  # replace a placeholder or an empty selection
    REWRITE = "rewrite"  # regenerate the selection from its context
    FIX = "fix"  # repair a syntax error
    COMPLETE = "complete"  # insert at the cursor


class Status(str, Enum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # the model proposed the text already there, or nothing to do
    REJECTED = "rejected"  # every candidate made the file worse
    UNSUPPORTED = "unsupported"  # language not supported
    ERROR = "error"  # bad request (range out of bounds, span too long, ...)
    CANCELLED = "cancelled"


def sampler_options(preset: str, **explicit: Any) -> dict[str, Any]:
    """A speed preset's sampler settings (quality, balanced, fast) with the explicitly
    given ones over them; None means "not given"."""
    return {**PRESETS[preset], **{k: v for k, v in explicit.items() if v is not None}}


@dataclass(frozen=True)
class EditOptions:
    """Engine settings; sampler options pass through to the model."""

    max_context_tokens: int = 1024
    max_span_tokens: int = 192
    snap: bool = True  # grow selections to whole statements
    repair_rounds: int = 2  # re-denoise the tokens under a new syntax error this often
    sampler: dict = field(default_factory=dict)  # SamplerOptions fields


DEFAULT_OPTIONS = EditOptions()


@dataclass(frozen=True)
class EditRequest:
    intent: Intent
    start: int  # offsets into Document.text
    end: int
    strength: float = 1.0  # rewrite: share of the span's tokens re-noised
    # complete: keep only what goes on the cursor's line (single-line ghost text)
    one_line: bool = False


@dataclass
class EditResult:
    status: Status
    reason: str = ""
    start: int = 0  # the span replaced, in offsets of the original document
    end: int = 0
    original: str = ""
    replacement: str = ""
    edits: list[TextEdit] = field(default_factory=list)
    errors_before: int = 0
    errors_after: int = 0
    steps: int = 0
    seconds: float = 0.0
    confidence: float = 0.0
    repairs: int = 0

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED


class EditFailure(Exception):
    """A request that cannot be prepared; carries the result to report."""

    def __init__(self, result: EditResult) -> None:
        super().__init__(result.reason)
        self.result = result


def failure(status: Status, reason: str, start: int = 0, end: int = 0) -> EditFailure:
    return EditFailure(EditResult(status, reason, start, end))
