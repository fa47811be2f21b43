from typing import Any


def group_by(records: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    """Group records by their value for `key`, keeping input order within each group and
    groups in order of first appearance. Records without the key go under None."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record.get(key), []).append(record)
    return groups


def check(candidate):
    rows = [
        {"team": "red", "name": "ann"},
        {"team": "blue", "name": "bob"},
        {"name": "cy"},
        {"team": "red", "name": "dee"},
    ]
    groups = candidate(rows, "team")
    assert list(groups) == ["red", "blue", None]
    assert [r["name"] for r in groups["red"]] == ["ann", "dee"]
    assert groups[None] == [{"name": "cy"}]
    assert candidate([], "team") == {}
    assert candidate(rows, "name")["bob"] == [{"team": "blue", "name": "bob"}]


ENTRY_POINT = "group_by"
