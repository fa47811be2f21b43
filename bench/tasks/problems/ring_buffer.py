from typing import Any


class RingBuffer:
    """Keeps the last `size` items appended, oldest first, in a fixed-size list."""

    def __init__(self, size: int) -> None:
        """An empty buffer with room for `size` items."""
        self._items: list[Any] = [None] * size
        self._start = 0
        self._count = 0

    def append(self, item: Any) -> None:
        """Add an item, overwriting the oldest one once the buffer is full."""
        size = len(self._items)
        self._items[(self._start + self._count) % size] = item
        if self._count < size:
            self._count += 1
        else:
            self._start = (self._start + 1) % size

    def to_list(self) -> list[Any]:
        """The items held, oldest first."""
        size = len(self._items)
        return [self._items[(self._start + i) % size] for i in range(self._count)]


def check(candidate):
    buf = candidate(3)
    assert buf.to_list() == []
    buf.append(1)
    buf.append(2)
    assert buf.to_list() == [1, 2]
    buf.append(3)
    buf.append(4)
    assert buf.to_list() == [2, 3, 4]
    for item in range(5, 10):
        buf.append(item)
    assert buf.to_list() == [7, 8, 9]
    one = candidate(1)
    one.append("a")
    one.append("b")
    assert one.to_list() == ["b"]


ENTRY_POINT = "RingBuffer"
