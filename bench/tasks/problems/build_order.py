def build_order(deps: dict[str, list[str]]) -> list[str]:
    """Order tasks so that each comes after all its prerequisites; deps maps every task to
    the tasks it needs (each of those is a key too). Among tasks that are ready at the same
    time the alphabetically first goes first. Raises ValueError on a dependency cycle."""
    remaining = {task: set(needs) for task, needs in deps.items()}
    order: list[str] = []
    while remaining:
        ready = [task for task, needs in remaining.items() if not needs]
        if not ready:
            raise ValueError("dependency cycle")
        order.append(min(ready))
        remaining = {t: needs - {order[-1]} for t, needs in remaining.items() if t != order[-1]}
    return order


def check(candidate):
    deps = {"app": ["lib", "config"], "lib": ["base"], "config": [], "base": []}
    assert candidate(deps) == ["base", "config", "lib", "app"]
    assert deps["app"] == ["lib", "config"]
    assert candidate({}) == []
    assert candidate({"c": [], "b": [], "a": []}) == ["a", "b", "c"]
    assert candidate({"z": [], "a": ["z"]}) == ["z", "a"]
    try:
        candidate({"a": ["b"], "b": ["a"], "c": []})
    except ValueError:
        pass
    else:
        raise AssertionError("no ValueError for a cycle")


ENTRY_POINT = "build_order"
