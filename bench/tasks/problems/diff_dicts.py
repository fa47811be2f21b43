from typing import Any


def diff_dicts(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    """Which keys were added, removed and changed going from old to new; each list is
    sorted."""
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    changed = sorted(key for key in old.keys() & new.keys() if old[key] != new[key])
    return {"added": added, "removed": removed, "changed": changed}


def check(candidate):
    old = {"a": 1, "b": 2, "c": 3, "d": [1]}
    new = {"a": 1, "b": 20, "e": 5, "d": [1, 2], "f": None}
    assert candidate(old, new) == {"added": ["e", "f"], "removed": ["c"], "changed": ["b", "d"]}
    assert candidate({}, {}) == {"added": [], "removed": [], "changed": []}
    assert candidate({"x": 1}, {}) == {"added": [], "removed": ["x"], "changed": []}
    assert candidate({}, {"y": 0, "x": 0})["added"] == ["x", "y"]
    assert candidate({"k": 1}, {"k": 1.0})["changed"] == []


ENTRY_POINT = "diff_dicts"
