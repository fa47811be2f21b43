from datetime import date, timedelta


def week_span(day: date) -> tuple[str, date, date]:
    """The ISO week that contains `day`: its label 'YYYY-Www' and its Monday and Sunday.
    The label's year is the ISO year, which can differ from the calendar year."""
    year, week, weekday = day.isocalendar()
    monday = day - timedelta(days=weekday - 1)
    return f"{year}-W{week:02d}", monday, monday + timedelta(days=6)


def check(candidate):
    assert candidate(date(2024, 5, 1)) == ("2024-W18", date(2024, 4, 29), date(2024, 5, 5))
    assert candidate(date(2021, 1, 1)) == ("2020-W53", date(2020, 12, 28), date(2021, 1, 3))
    assert candidate(date(2024, 12, 30)) == ("2025-W01", date(2024, 12, 30), date(2025, 1, 5))
    assert candidate(date(2024, 1, 7)) == ("2024-W01", date(2024, 1, 1), date(2024, 1, 7))
    assert candidate(date(2024, 3, 4))[0] == "2024-W10"


ENTRY_POINT = "week_span"
