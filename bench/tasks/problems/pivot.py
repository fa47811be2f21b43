def pivot(rows: list[tuple[str, str, float]]) -> dict[str, dict[str, float]]:
    """Turn (row, column, value) triples into {row: {column: total}}, adding up the values
    of repeated (row, column) pairs. Rows and columns keep their first-seen order."""
    table: dict[str, dict[str, float]] = {}
    for row, column, value in rows:
        cells = table.setdefault(row, {})
        cells[column] = cells.get(column, 0) + value
    return table


def check(candidate):
    sales = [("north", "jan", 10), ("south", "jan", 4), ("north", "feb", 7), ("north", "jan", 5)]
    assert candidate(sales) == {"north": {"jan": 15, "feb": 7}, "south": {"jan": 4}}
    assert list(candidate(sales)) == ["north", "south"]
    assert candidate([]) == {}
    assert candidate([("r", "c", 1.5), ("r", "c", -1.5)]) == {"r": {"c": 0.0}}
    assert list(candidate([("r", "b", 1), ("r", "a", 1)])["r"]) == ["b", "a"]


ENTRY_POINT = "pivot"
