from datetime import datetime, timedelta


def time_slots(start: str, end: str, minutes: int) -> list[str]:
    """The 'HH:MM' start times of back-to-back slots of `minutes` that fit entirely
    between start and end, both 'HH:MM' on the same day."""
    fmt = "%H:%M"
    current = datetime.strptime(start, fmt)
    finish = datetime.strptime(end, fmt)
    step = timedelta(minutes=minutes)
    slots = []
    while current + step <= finish:
        slots.append(current.strftime(fmt))
        current += step
    return slots


def check(candidate):
    assert candidate("09:00", "11:00", 30) == ["09:00", "09:30", "10:00", "10:30"]
    assert candidate("09:00", "10:10", 30) == ["09:00", "09:30"]
    assert candidate("13:15", "13:45", 45) == []
    assert candidate("08:50", "09:40", 25) == ["08:50", "09:15"]
    assert candidate("12:00", "12:00", 10) == []
    assert candidate("23:00", "23:59", 59) == ["23:00"]


ENTRY_POINT = "time_slots"
