from collections.abc import Callable
from typing import Any


def pipeline(*steps: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Compose functions left to right: pipeline(f, g)(x) is g(f(x)). With no steps the
    result returns its argument unchanged."""

    def run(value: Any) -> Any:
        """Pass value through every step in order."""
        for step in steps:
            value = step(value)
        return value

    return run


def check(candidate):
    assert candidate(str.strip, str.upper)("  hi ") == "HI"
    assert candidate()(42) == 42
    assert candidate(lambda x: x + 1, lambda x: x * 10)(1) == 20
    assert candidate(lambda x: x * 10, lambda x: x + 1)(1) == 11
    assert candidate(sorted, tuple)([3, 1, 2]) == (1, 2, 3)
    twice = candidate(len)
    assert twice("abc") == 3 and twice([1]) == 1


ENTRY_POINT = "pipeline"
