def max_bookings(requests: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The largest set of non-overlapping (start, end) bookings of one room, end exclusive,
    chosen greedily by earliest end (then earliest start) and returned in time order."""
    chosen: list[tuple[int, int]] = []
    for start, end in sorted(requests, key=lambda r: (r[1], r[0])):
        if not chosen or start >= chosen[-1][1]:
            chosen.append((start, end))
    return chosen


def check(candidate):
    assert candidate([(1, 4), (3, 5), (0, 6), (5, 7), (8, 9), (5, 9)]) == [(1, 4), (5, 7), (8, 9)]
    assert candidate([]) == []
    assert candidate([(9, 10), (1, 2)]) == [(1, 2), (9, 10)]
    assert candidate([(0, 10), (1, 2), (2, 3)]) == [(1, 2), (2, 3)]
    assert candidate([(2, 3), (1, 3)]) == [(1, 3)]
    assert candidate([(0, 5), (0, 5)]) == [(0, 5)]


ENTRY_POINT = "max_bookings"
