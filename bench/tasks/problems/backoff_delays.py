def backoff_delays(attempts: int, base: float = 0.5, cap: float = 30.0) -> list[float]:
    """The wait before each of `attempts` retries with exponential backoff: base, twice
    base, four times base and so on, none longer than cap."""
    delays = []
    delay = base
    for _ in range(attempts):
        delays.append(min(delay, cap))
        delay *= 2
    return delays


def check(candidate):
    assert candidate(4) == [0.5, 1.0, 2.0, 4.0]
    assert candidate(0) == []
    assert candidate(5, base=1, cap=5) == [1, 2, 4, 5, 5]
    assert candidate(3, base=10, cap=1) == [1, 1, 1]
    assert candidate(8)[-1] == 30.0


ENTRY_POINT = "backoff_delays"
