import calendar
from datetime import date


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday (Monday is 0) of a month, counted from the end for negative
    n: (2024, 11, 3, 4) is the fourth Thursday, 2024-11-28, and (2024, 5, 0, -1) the last
    Monday of May. Raises ValueError when the month has no such day."""
    days = [week[weekday] for week in calendar.monthcalendar(year, month) if week[weekday]]
    index = n - 1 if n > 0 else n
    if n == 0 or not -len(days) <= index < len(days):
        raise ValueError("no such weekday in that month")
    return date(year, month, days[index])


def check(candidate):
    assert candidate(2024, 11, 3, 4) == date(2024, 11, 28)
    assert candidate(2024, 5, 0, -1) == date(2024, 5, 27)
    assert candidate(2024, 9, 6, 1) == date(2024, 9, 1)
    assert candidate(2024, 2, 3, 5) == date(2024, 2, 29)
    assert candidate(2024, 3, 4, -2) == date(2024, 3, 22)
    for args in [(2023, 2, 3, 5), (2024, 1, 0, 0), (2024, 1, 0, -6)]:
        try:
            candidate(*args)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {args}")


ENTRY_POINT = "nth_weekday"
