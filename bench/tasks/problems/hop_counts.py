from collections import deque


def hop_counts(graph: dict[str, list[str]], start: str) -> dict[str, int]:
    """The fewest edges from start to every node reachable from it, in a directed graph
    given as adjacency lists; start itself is 0 hops away."""
    distances = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for neighbour in graph.get(node, []):
            if neighbour not in distances:
                distances[neighbour] = distances[node] + 1
                queue.append(neighbour)
    return distances


def check(candidate):
    graph = {"a": ["b", "c"], "b": ["d"], "c": ["d", "e"], "d": ["f"], "e": [], "x": ["a"]}
    assert candidate(graph, "a") == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 2, "f": 3}
    assert candidate(graph, "f") == {"f": 0}
    assert candidate({}, "q") == {"q": 0}
    assert candidate({"a": ["b"], "b": ["a"]}, "a") == {"a": 0, "b": 1}
    assert candidate({"a": ["b", "c"], "b": ["c"], "c": []}, "a")["c"] == 1


ENTRY_POINT = "hop_counts"
