def format_clock(seconds: int) -> str:
    """Format a signed number of seconds as H:MM:SS: 3725 -> '1:02:05', -65 -> '-0:01:05'.

    Hours are not wrapped at 24.
    """
    sign = "-" if seconds < 0 else ""
    minutes, secs = divmod(abs(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"


def check(candidate):
    assert candidate(0) == "0:00:00"
    assert candidate(59) == "0:00:59"
    assert candidate(3725) == "1:02:05"
    assert candidate(-65) == "-0:01:05"
    assert candidate(3600) == "1:00:00"
    assert candidate(90000) == "25:00:00"


ENTRY_POINT = "format_clock"
