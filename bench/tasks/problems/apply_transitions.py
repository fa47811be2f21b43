from enum import Enum


class Status(Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


ALLOWED = {
    Status.DRAFT: {Status.SUBMITTED},
    Status.SUBMITTED: {Status.APPROVED, Status.REJECTED},
    Status.REJECTED: {Status.DRAFT},
}


def apply_transitions(start: str, steps: list[str]) -> str:
    """Walk a document from status `start` through the named statuses in steps and return
    where it ends. Raises ValueError for an unknown status name or a move that ALLOWED
    does not permit (nothing leaves 'approved')."""
    current = Status(start)
    for name in steps:
        target = Status(name)
        if target not in ALLOWED.get(current, set()):
            raise ValueError(f"cannot go from {current.value} to {target.value}")
        current = target
    return current.value


def check(candidate):
    assert candidate("draft", ["submitted", "approved"]) == "approved"
    assert candidate("draft", []) == "draft"
    assert candidate("submitted", ["rejected", "draft", "submitted"]) == "submitted"
    assert candidate("rejected", ["draft"]) == "draft"
    for start, steps in [
        ("draft", ["approved"]),
        ("approved", ["draft"]),
        ("draft", ["published"]),
        ("draft", ["submitted", "submitted"]),
    ]:
        try:
            candidate(start, steps)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {start} -> {steps}")


ENTRY_POINT = "apply_transitions"
