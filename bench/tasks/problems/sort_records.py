from operator import itemgetter
from typing import Any


def sort_records(records: list[dict[str, Any]], spec: str) -> list[dict[str, Any]]:
    """Records sorted by comma-separated field names, where a leading '-' sorts that field
    in descending order: 'team,-score'. The sort is stable and the input list is left as
    it was."""
    result = list(records)
    for field in reversed(spec.split(",")):
        name = field.strip()
        result.sort(key=itemgetter(name.lstrip("-")), reverse=name.startswith("-"))
    return result


def check(candidate):
    rows = [
        {"team": "b", "score": 3, "name": "ann"},
        {"team": "a", "score": 5, "name": "bob"},
        {"team": "b", "score": 9, "name": "cy"},
        {"team": "a", "score": 5, "name": "dee"},
    ]
    names = [r["name"] for r in candidate(rows, "team, -score")]
    assert names == ["bob", "dee", "cy", "ann"]
    assert [r["name"] for r in candidate(rows, "-score")] == ["cy", "bob", "dee", "ann"]
    assert [r["name"] for r in candidate(rows, "score")] == ["ann", "bob", "dee", "cy"]
    assert rows[0]["name"] == "ann" and rows[1]["name"] == "bob"
    assert candidate([], "x") == []


ENTRY_POINT = "sort_records"
