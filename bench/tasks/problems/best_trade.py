def best_trade(prices: list[float]) -> tuple[int, int] | None:
    """The (buy, sell) day indices of the single buy followed by a later sell that makes
    the largest profit, the earliest such pair on ties; None when no trade makes money."""
    best: tuple[int, int] | None = None
    low = 0
    for day, price in enumerate(prices):
        if price < prices[low]:
            low = day
        elif price - prices[low] > (prices[best[1]] - prices[best[0]] if best else 0):
            best = (low, day)
    return best


def check(candidate):
    assert candidate([7, 1, 5, 3, 6, 4]) == (1, 4)
    assert candidate([7, 6, 4, 3, 1]) is None
    assert candidate([]) is None
    assert candidate([5]) is None
    assert candidate([2, 2, 2]) is None
    assert candidate([3, 8, 1, 6]) == (0, 1)
    assert candidate([3, 5, 1, 9]) == (2, 3)


ENTRY_POINT = "best_trade"
