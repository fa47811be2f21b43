from collections import OrderedDict


class LRUCache:
    """A mapping of fixed capacity that evicts the least recently used key when full."""

    def __init__(self, capacity: int) -> None:
        """An empty cache that holds at most `capacity` entries."""
        self.capacity = capacity
        self._data: OrderedDict[str, int] = OrderedDict()

    def get(self, key: str, default: int | None = None) -> int | None:
        """The value for key, which becomes the most recently used, or default."""
        if key not in self._data:
            return default
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: str, value: int) -> None:
        """Store a value as the most recently used, evicting the least recently used
        entry when the cache grows past its capacity."""
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)


def check(candidate):
    cache = candidate(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1 and cache.get("c") == 3
    cache.put("a", 10)
    cache.put("d", 4)
    assert cache.get("c", -1) == -1
    assert cache.get("a") == 10 and cache.get("d") == 4
    single = candidate(1)
    single.put("x", 1)
    single.put("y", 2)
    assert single.get("x") is None and single.get("y") == 2


ENTRY_POINT = "LRUCache"
