UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def time_ago(seconds: int) -> str:
    """Describe how long ago something happened in the largest whole unit: 'just now'
    under a minute, then '1 minute ago', '5 hours ago', '2 days ago' (rounded down)."""
    for unit, size in UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def check(candidate):
    assert candidate(0) == "just now"
    assert candidate(59) == "just now"
    assert candidate(60) == "1 minute ago"
    assert candidate(150) == "2 minutes ago"
    assert candidate(3600) == "1 hour ago"
    assert candidate(7199) == "1 hour ago"
    assert candidate(86400 * 3 + 5) == "3 days ago"
    assert candidate(86399) == "23 hours ago"


ENTRY_POINT = "time_ago"
