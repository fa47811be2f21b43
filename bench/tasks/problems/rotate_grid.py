def rotate_grid(grid: list[str], quarter_turns: int = 1) -> list[str]:
    """Rotate a grid of equal-length strings clockwise by a number of quarter turns;
    negative numbers turn it anticlockwise."""
    for _ in range(quarter_turns % 4):
        grid = ["".join(column) for column in zip(*reversed(grid))]
    return grid


def check(candidate):
    grid = ["ab", "cd", "ef"]
    assert candidate(grid) == ["eca", "fdb"]
    assert candidate(grid, 2) == ["fe", "dc", "ba"]
    assert candidate(grid, -1) == ["bdf", "ace"]
    assert candidate(grid, 4) == grid
    assert candidate(grid, 0) == grid
    assert candidate(["x"], 3) == ["x"]


ENTRY_POINT = "rotate_grid"
