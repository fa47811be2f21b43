from typing import Any


def find_path(node: dict[str, Any], target: str) -> list[str] | None:
    """The names from the root down to the first node named target (depth first, children
    in order), or None when there is none. Nodes look like {'name': 'a', 'children': [...]},
    and 'children' may be missing."""
    if node["name"] == target:
        return [node["name"]]
    for child in node.get("children", []):
        path = find_path(child, target)
        if path is not None:
            return [node["name"], *path]
    return None


def check(candidate):
    tree = {
        "name": "root",
        "children": [
            {"name": "a", "children": [{"name": "x"}]},
            {"name": "b", "children": [{"name": "c", "children": [{"name": "x"}]}]},
        ],
    }
    assert candidate(tree, "x") == ["root", "a", "x"]
    assert candidate(tree, "c") == ["root", "b", "c"]
    assert candidate(tree, "root") == ["root"]
    assert candidate(tree, "zzz") is None
    assert candidate({"name": "solo"}, "solo") == ["solo"]


ENTRY_POINT = "find_path"
