def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching closed intervals, returned sorted by start."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def check(candidate):
    assert candidate([(1, 3), (2, 6), (8, 10), (15, 18)]) == [(1, 6), (8, 10), (15, 18)]
    assert candidate([(5, 6), (1, 2), (2, 4)]) == [(1, 4), (5, 6)]
    assert candidate([]) == []
    assert candidate([(1, 10), (2, 3), (4, 5)]) == [(1, 10)]
    assert candidate([(3, 3)]) == [(3, 3)]
    assert candidate([(0, 1), (2, 3)]) == [(0, 1), (2, 3)]


ENTRY_POINT = "merge_intervals"
