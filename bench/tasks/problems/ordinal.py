def ordinal(n: int) -> str:
    """An integer with its English ordinal suffix: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th,
    21st, 102nd, 111th."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def check(candidate):
    assert [candidate(n) for n in range(1, 5)] == ["1st", "2nd", "3rd", "4th"]
    assert [candidate(n) for n in (11, 12, 13)] == ["11th", "12th", "13th"]
    assert candidate(21) == "21st"
    assert candidate(102) == "102nd"
    assert candidate(111) == "111th"
    assert candidate(0) == "0th"
    assert candidate(1013) == "1013th"
    assert candidate(23) == "23rd"


ENTRY_POINT = "ordinal"
