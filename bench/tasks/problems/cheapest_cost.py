import heapq
import math


def cheapest_cost(graph: dict[str, dict[str, int]], start: str, goal: str) -> int | None:
    """The lowest total cost of a path from start to goal in a directed graph with
    non-negative edge costs, {node: {neighbour: cost}}; None when goal is unreachable."""
    best = {start: 0}
    queue = [(0, start)]
    while queue:
        cost, node = heapq.heappop(queue)
        for neighbour, step in graph.get(node, {}).items():
            if cost + step < best.get(neighbour, math.inf):
                best[neighbour] = cost + step
                heapq.heappush(queue, (cost + step, neighbour))
    return best.get(goal)


def check(candidate):
    graph = {
        "a": {"b": 4, "c": 1},
        "c": {"b": 2, "d": 7},
        "b": {"d": 1},
        "d": {},
        "e": {"a": 1},
    }
    assert candidate(graph, "a", "d") == 4
    assert candidate(graph, "a", "b") == 3
    assert candidate(graph, "a", "a") == 0
    assert candidate(graph, "a", "e") is None
    assert candidate(graph, "e", "d") == 5
    assert candidate({}, "x", "y") is None
    assert candidate({"s": {"t": 0}}, "s", "t") == 0


ENTRY_POINT = "cheapest_cost"
