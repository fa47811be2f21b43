def restock_orders(
    stock: dict[str, int], minimum: dict[str, int], pack: int = 10
) -> dict[str, int]:
    """How many units of each item to order so that stock reaches at least its minimum,
    ordering in whole packs of `pack` units. An item missing from stock has none; items
    already at their minimum are left out."""
    orders = {}
    for item, low in minimum.items():
        missing = low - stock.get(item, 0)
        if missing > 0:
            orders[item] = -(-missing // pack) * pack
    return orders


def check(candidate):
    stock = {"bolts": 42, "nuts": 5, "washers": 100}
    minimum = {"bolts": 50, "nuts": 30, "washers": 80, "rivets": 1}
    assert candidate(stock, minimum) == {"bolts": 10, "nuts": 30, "rivets": 10}
    assert candidate(stock, minimum, pack=25) == {"bolts": 25, "nuts": 25, "rivets": 25}
    assert candidate({}, {}) == {}
    assert candidate({"a": 10}, {"a": 10}) == {}
    assert candidate({"a": 9}, {"a": 10}, pack=1) == {"a": 1}
    assert candidate({"a": 0}, {"a": 20}) == {"a": 20}


ENTRY_POINT = "restock_orders"
