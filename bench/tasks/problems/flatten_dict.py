from typing import Any


def flatten_dict(data: dict[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Flatten nested dicts into one level with joined keys: {'a': {'b': 1}} -> {'a.b': 1}.

    Empty nested dicts are kept as values; lists are not descended into.
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{sep}{key}" if prefix else key
        if isinstance(value, dict) and value:
            flat.update(flatten_dict(value, name, sep))
        else:
            flat[name] = value
    return flat


def check(candidate):
    assert candidate({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}
    assert candidate({}) == {}
    assert candidate({"a": {}}) == {"a": {}}
    assert candidate({"x": {"y": [1, {"z": 2}]}}) == {"x.y": [1, {"z": 2}]}
    assert candidate({"a": {"b": 1}}, sep="/") == {"a/b": 1}
    assert candidate({"b": 1}, prefix="root") == {"root.b": 1}


ENTRY_POINT = "flatten_dict"
