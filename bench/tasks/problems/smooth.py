def smooth(values: list[float], alpha: float) -> list[float]:
    """Exponentially smoothed series: the first output is the first value and each later
    one is alpha * value + (1 - alpha) * the previous output. Raises ValueError unless
    0 < alpha <= 1."""
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be in (0, 1]")
    smoothed: list[float] = []
    for value in values:
        smoothed.append(value if not smoothed else alpha * value + (1 - alpha) * smoothed[-1])
    return smoothed


def check(candidate):
    assert candidate([10, 20, 30], 0.5) == [10, 15.0, 22.5]
    assert candidate([], 0.3) == []
    assert candidate([4, 8, 1], 1) == [4, 8, 1]
    out = candidate([1.0, 0.0, 0.0], 0.25)
    assert abs(out[1] - 0.75) < 1e-12 and abs(out[2] - 0.5625) < 1e-12
    for bad in [0, 1.5, -0.1]:
        try:
            candidate([1.0], bad)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for alpha={bad}")


ENTRY_POINT = "smooth"
