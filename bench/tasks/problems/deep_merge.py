from typing import Any


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict with override merged into base: where both hold a dict the two merge
    recursively, otherwise override's value wins. Neither input is modified."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def check(candidate):
    base = {"db": {"host": "localhost", "port": 5432}, "debug": False}
    override = {"db": {"port": 6543}, "debug": True, "name": "app"}
    merged = candidate(base, override)
    assert merged == {"db": {"host": "localhost", "port": 6543}, "debug": True, "name": "app"}
    assert base == {"db": {"host": "localhost", "port": 5432}, "debug": False}
    assert override == {"db": {"port": 6543}, "debug": True, "name": "app"}
    assert candidate({"a": {"b": 1}}, {"a": 2}) == {"a": 2}
    assert candidate({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert candidate({}, {}) == {}
    assert candidate({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"c": 9}}}) == {
        "a": {"b": {"c": 9, "d": 2}}
    }


ENTRY_POINT = "deep_merge"
