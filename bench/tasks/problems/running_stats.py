class RunningStats:
    """Mean and sample variance of a stream of numbers, updated one value at a time with
    Welford's method (no list of values is kept)."""

    def __init__(self) -> None:
        """Statistics of no values yet."""
        self.count = 0
        self.mean = 0.0
        self._m2 = 0.0

    def add(self, value: float) -> None:
        """Take one more value into account."""
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (value - self.mean)

    def variance(self) -> float:
        """The sample variance of the values so far; 0.0 for fewer than two values."""
        return self._m2 / (self.count - 1) if self.count > 1 else 0.0


def check(candidate):
    stats = candidate()
    assert stats.count == 0 and stats.variance() == 0.0
    stats.add(4.0)
    assert stats.mean == 4.0 and stats.variance() == 0.0
    for value in [7.0, 13.0, 16.0]:
        stats.add(value)
    assert stats.count == 4
    assert abs(stats.mean - 10.0) < 1e-9
    assert abs(stats.variance() - 30.0) < 1e-9
    other = candidate()
    for value in [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]:
        other.add(value)
    assert abs(other.variance() - 30.0) < 1e-6


ENTRY_POINT = "RunningStats"
