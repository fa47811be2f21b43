def determinant(matrix: list[list[float]]) -> float:
    """The determinant of a square matrix, by cofactor expansion along the first row."""
    if len(matrix) == 1:
        return matrix[0][0]
    total = 0.0
    for col, value in enumerate(matrix[0]):
        minor = [row[:col] + row[col + 1 :] for row in matrix[1:]]
        total += (-1) ** col * value * determinant(minor)
    return total


def check(candidate):
    assert candidate([[5]]) == 5
    assert candidate([[1, 2], [3, 4]]) == -2
    assert candidate([[2, 0, 0], [0, 3, 0], [0, 0, 4]]) == 24
    assert candidate([[1, 2, 3], [4, 5, 6], [7, 8, 9]]) == 0
    assert candidate([[0, 1], [1, 0]]) == -1
    assert candidate([[2, -3, 1], [2, 0, -1], [1, 4, 5]]) == 49
    assert candidate([[1, 0, 2, -1], [3, 0, 0, 5], [2, 1, 4, -3], [1, 0, 5, 0]]) == 30


ENTRY_POINT = "determinant"
