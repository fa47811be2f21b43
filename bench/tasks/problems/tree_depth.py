from typing import Any


def tree_depth(node: dict[str, Any]) -> int:
    """The depth of a tree of {'name': ..., 'children': [...]} nodes: a node without
    children (the key may be missing) has depth 1."""
    children = node.get("children") or []
    return 1 + max((tree_depth(child) for child in children), default=0)


def check(candidate):
    assert candidate({"name": "leaf"}) == 1
    assert candidate({"name": "r", "children": []}) == 1
    tree = {
        "name": "root",
        "children": [
            {"name": "a", "children": [{"name": "a1"}]},
            {"name": "b", "children": [{"name": "b1", "children": [{"name": "b2"}]}]},
        ],
    }
    assert candidate(tree) == 4
    assert candidate(tree["children"][0]) == 2
    assert candidate({"name": "r", "children": None}) == 1


ENTRY_POINT = "tree_depth"
