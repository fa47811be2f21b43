from collections.abc import Callable


def first_true(low: int, high: int, predicate: Callable[[int], bool]) -> int | None:
    """The smallest n in range(low, high) for which predicate(n) holds, where predicate is
    false up to some point and true from there on; None when it never holds. Uses a
    binary search, so predicate is called only O(log(high - low)) times."""
    end = high
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low if low < end else None


def check(candidate):
    assert candidate(0, 100, lambda n: n * n >= 50) == 8
    assert candidate(0, 10, lambda n: True) == 0
    assert candidate(0, 10, lambda n: False) is None
    assert candidate(5, 5, lambda n: True) is None
    assert candidate(-20, 20, lambda n: n >= -3) == -3
    calls = []
    assert candidate(0, 1_000_000, lambda n: calls.append(n) or n >= 765_432) == 765_432
    assert len(calls) <= 21


ENTRY_POINT = "first_true"
