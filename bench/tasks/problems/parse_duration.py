import re

_PART = re.compile(r"(\d+)([hms])")
_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Convert a duration such as '1h30m', '90s' or '2H5S' into a number of seconds.

    Surrounding whitespace and letter case are ignored. Raises ValueError when the text is
    empty or holds anything but number-unit pairs.
    """
    text = text.strip().lower()
    parts = _PART.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"bad duration: {text!r}")
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


def check(candidate):
    assert candidate("1h30m") == 5400
    assert candidate("45s") == 45
    assert candidate(" 2H5S ") == 7205
    assert candidate("90m") == 5400
    assert candidate("1h1m1s") == 3661
    assert candidate("0s") == 0
    for bad in ["", "   ", "1x", "h", "1h 30m", "10"]:
        try:
            candidate(bad)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {bad!r}")


ENTRY_POINT = "parse_duration"
