def format_table(headers: list[str], rows: list[list[object]]) -> str:
    """Render rows as a plain-text table: every column padded to its widest cell, cells
    separated by ' | ', a '-+-' rule under the headers, and no trailing spaces."""
    table = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def check(candidate):
    assert candidate(["name", "qty"], [["apple", 3], ["fig", 12]]) == (
        "name  | qty\n------+----\napple | 3\nfig   | 12"
    )
    assert candidate(["a"], []) == "a\n-"
    assert candidate(["x", "y"], [["", None]]) == "x | y\n--+-----\n  | None"
    assert candidate(["id", "title"], [[1, "Dune"]]).splitlines()[1] == "---+------"
    assert candidate(["k", "v"], [["long key", 1]]).splitlines()[0] == "k        | v"


ENTRY_POINT = "format_table"
