def spiral_order(matrix: list[list[int]]) -> list[int]:
    """The elements of a rectangular matrix in clockwise spiral order, starting at the top
    left corner. The matrix itself is left unchanged."""
    result: list[int] = []
    rows = [list(row) for row in matrix]
    while rows:
        result.extend(rows.pop(0))
        rows = [list(column) for column in zip(*rows)][::-1]
    return result


def check(candidate):
    square = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert candidate(square) == [1, 2, 3, 6, 9, 8, 7, 4, 5]
    assert square == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert candidate([[1, 2, 3, 4], [5, 6, 7, 8]]) == [1, 2, 3, 4, 8, 7, 6, 5]
    assert candidate([[1], [2], [3]]) == [1, 2, 3]
    assert candidate([]) == []
    assert candidate([[7]]) == [7]
    wide = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    assert candidate(wide) == [1, 2, 3, 4, 8, 12, 11, 10, 9, 5, 6, 7]


ENTRY_POINT = "spiral_order"
