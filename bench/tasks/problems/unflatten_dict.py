from typing import Any


def unflatten_dict(flat: dict[str, Any], sep: str = ".") -> dict[str, Any]:
    """Rebuild nested dicts from joined keys: {'a.b': 1, 'a.c': 2} -> {'a': {'b': 1, 'c': 2}}."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(sep)
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def check(candidate):
    assert candidate({"a.b": 1, "a.c": 2}) == {"a": {"b": 1, "c": 2}}
    assert candidate({"x": 1}) == {"x": 1}
    assert candidate({}) == {}
    assert candidate({"a.b.c": 1, "a.d": 2, "e": 3}) == {"a": {"b": {"c": 1}, "d": 2}, "e": 3}
    assert candidate({"a/b": [1]}, sep="/") == {"a": {"b": [1]}}
    assert candidate({"a.b": 1}, sep="/") == {"a.b": 1}


ENTRY_POINT = "unflatten_dict"
