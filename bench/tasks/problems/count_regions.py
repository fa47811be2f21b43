def count_regions(grid: list[str]) -> int:
    """Count the groups of '#' cells connected horizontally or vertically in a grid given
    as a list of strings (rows may differ in length)."""
    seen: set[tuple[int, int]] = set()
    regions = 0
    for r, row in enumerate(grid):
        for c, cell in enumerate(row):
            if cell == "#" and (r, c) not in seen:
                regions += 1
                _flood(grid, (r, c), seen)
    return regions


def _flood(grid: list[str], start: tuple[int, int], seen: set[tuple[int, int]]) -> None:
    """Add every '#' cell connected to start to seen."""
    stack = [start]
    while stack:
        r, c = stack.pop()
        if (r, c) in seen or not (0 <= r < len(grid) and 0 <= c < len(grid[r])):
            continue
        if grid[r][c] == "#":
            seen.add((r, c))
            stack.extend([(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)])


def check(candidate):
    grid = [
        "##..#",
        "#...#",
        "..#..",
        "....#",
    ]
    assert candidate(grid) == 4
    assert candidate([]) == 0
    assert candidate(["....", "...."]) == 0
    assert candidate(["###", "#.#", "###"]) == 1
    assert candidate(["#.#.#"]) == 3
    assert candidate(["#", "##", ".#"]) == 1
    assert candidate(["#.", ".#"]) == 2


ENTRY_POINT = "count_regions"
