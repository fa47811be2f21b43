import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    """Shift a date by a number of months (negative goes back), clamping the day to the
    length of the target month: 2024-01-31 plus one month is 2024-02-29."""
    index = day.year * 12 + day.month - 1 + months
    year, month_index = divmod(index, 12)
    last_day = calendar.monthrange(year, month_index + 1)[1]
    return date(year, month_index + 1, min(day.day, last_day))


def check(candidate):
    assert candidate(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert candidate(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert candidate(date(2024, 11, 15), 3) == date(2025, 2, 15)
    assert candidate(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert candidate(date(2024, 1, 10), -13) == date(2022, 12, 10)
    assert candidate(date(2024, 5, 5), 0) == date(2024, 5, 5)
    assert candidate(date(2020, 2, 29), 12) == date(2021, 2, 28)


ENTRY_POINT = "add_months"
