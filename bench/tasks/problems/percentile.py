def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0 to 100) of values, interpolating linearly between the two
    nearest ranks (as numpy does by default). Raises ValueError for no values."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def check(candidate):
    assert candidate([1, 2, 3, 4], 50) == 2.5
    assert candidate([4, 1, 3, 2], 0) == 1
    assert candidate([4, 1, 3, 2], 100) == 4
    assert candidate([5], 90) == 5
    assert candidate([10, 20, 30], 25) == 15
    assert candidate([3, 1, 2], 50) == 2
    assert abs(candidate([0, 10], 33) - 3.3) < 1e-9
    try:
        candidate([], 50)
    except ValueError:
        pass
    else:
        raise AssertionError("no ValueError for no values")


ENTRY_POINT = "percentile"
