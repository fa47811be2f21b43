from datetime import date, timedelta


def next_weekday(day: date, weekday: int, include_today: bool = False) -> date:
    """The first date after `day` that falls on `weekday` (Monday is 0, Sunday 6). With
    include_today, `day` itself counts when it is already that weekday."""
    ahead = (weekday - day.weekday()) % 7
    if ahead == 0 and not include_today:
        ahead = 7
    return day + timedelta(days=ahead)


def check(candidate):
    wednesday = date(2024, 5, 1)
    assert candidate(wednesday, 4) == date(2024, 5, 3)
    assert candidate(wednesday, 0) == date(2024, 5, 6)
    assert candidate(wednesday, 2) == date(2024, 5, 8)
    assert candidate(wednesday, 2, include_today=True) == wednesday
    assert candidate(date(2024, 12, 30), 6) == date(2025, 1, 5)
    assert candidate(wednesday, 1, include_today=True) == date(2024, 5, 7)


ENTRY_POINT = "next_weekday"
