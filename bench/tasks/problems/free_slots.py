def free_slots(busy: list[tuple[int, int]], day_start: int, day_end: int) -> list[tuple[int, int]]:
    """The gaps between busy (start, end) intervals inside [day_start, day_end), in order.

    Busy intervals may overlap, touch, come in any order, or reach outside the day.
    """
    free = []
    cursor = day_start
    for start, end in sorted(busy):
        if cursor < min(start, day_end):
            free.append((cursor, min(start, day_end)))
        cursor = max(cursor, end)
    if cursor < day_end:
        free.append((cursor, day_end))
    return free


def check(candidate):
    assert candidate([(10, 11), (13, 14)], 9, 17) == [(9, 10), (11, 13), (14, 17)]
    assert candidate([], 9, 17) == [(9, 17)]
    assert candidate([(12, 15), (9, 13)], 9, 17) == [(15, 17)]
    assert candidate([(8, 10), (10, 12), (16, 18)], 9, 17) == [(12, 16)]
    assert candidate([(9, 17)], 9, 17) == []
    assert candidate([(18, 19)], 9, 17) == [(9, 17)]
    assert candidate([(11, 12), (10, 11)], 10, 12) == []


ENTRY_POINT = "free_slots"
