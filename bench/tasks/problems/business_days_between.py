from datetime import date, timedelta


def business_days_between(start: date, end: date, holidays: set[date] | None = None) -> int:
    """Count the weekdays from start (inclusive) to end (exclusive) that are not holidays.

    Returns 0 when end is not after start.
    """
    holidays = holidays or set()
    count = 0
    day = start
    while day < end:
        if day.weekday() < 5 and day not in holidays:
            count += 1
        day += timedelta(days=1)
    return count


def check(candidate):
    monday = date(2024, 3, 4)
    assert candidate(monday, monday + timedelta(days=7)) == 5
    assert candidate(monday, monday) == 0
    assert candidate(monday + timedelta(days=7), monday) == 0
    assert candidate(date(2024, 3, 9), date(2024, 3, 11)) == 0
    assert candidate(monday, date(2024, 3, 18), {date(2024, 3, 6), date(2024, 3, 9)}) == 9
    assert candidate(date(2024, 2, 28), date(2024, 3, 2)) == 3


ENTRY_POINT = "business_days_between"
