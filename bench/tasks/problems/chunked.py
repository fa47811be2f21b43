from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield successive lists of `size` items from any iterable; the last may be shorter.

    Raises ValueError when size is less than one.
    """
    if size < 1:
        raise ValueError("size must be positive")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def check(candidate):
    assert list(candidate(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(candidate("abcd", 2)) == [["a", "b"], ["c", "d"]]
    assert list(candidate([], 4)) == []
    assert list(candidate([1, 2], 5)) == [[1, 2]]
    assert list(candidate(iter([1, 2, 3]), 1)) == [[1], [2], [3]]
    try:
        list(candidate([1], 0))
    except ValueError:
        pass
    else:
        raise AssertionError("no ValueError for size 0")


ENTRY_POINT = "chunked"
