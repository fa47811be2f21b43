from datetime import date, timedelta


def longest_streak(days: list[date]) -> int:
    """The length of the longest run of consecutive calendar days among the given dates;
    order and repeats do not matter."""
    best = current = 0
    previous = None
    for day in sorted(set(days)):
        follows = previous is not None and day - previous == timedelta(days=1)
        current = current + 1 if follows else 1
        best = max(best, current)
        previous = day
    return best


def check(candidate):
    d = date(2024, 2, 27)
    one = timedelta(days=1)
    assert candidate([d, d + one, d + 2 * one, d + 5 * one]) == 3
    assert candidate([]) == 0
    assert candidate([d]) == 1
    assert candidate([d + 2 * one, d, d + one, d + one]) == 3
    assert candidate([d, d + 2 * one, d + 4 * one]) == 1
    assert candidate([date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 3)]) == 2


ENTRY_POINT = "longest_streak"
