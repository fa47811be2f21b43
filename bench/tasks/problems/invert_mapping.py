def invert_mapping(mapping: dict[str, list[str]]) -> dict[str, list[str]]:
    """Invert a one-to-many mapping: {'a': ['x', 'y'], 'b': ['x']} gives
    {'x': ['a', 'b'], 'y': ['a']}. The result's keys are sorted, and so is each list."""
    inverted: dict[str, list[str]] = {}
    for key, values in mapping.items():
        for value in values:
            inverted.setdefault(value, []).append(key)
    return {value: sorted(keys) for value, keys in sorted(inverted.items())}


def check(candidate):
    assert candidate({"a": ["x", "y"], "b": ["x"]}) == {"x": ["a", "b"], "y": ["a"]}
    assert list(candidate({"k": ["z", "m", "a"]})) == ["a", "m", "z"]
    assert candidate({"b": ["t"], "a": ["t"]}) == {"t": ["a", "b"]}
    assert candidate({}) == {}
    assert candidate({"empty": []}) == {}


ENTRY_POINT = "invert_mapping"
