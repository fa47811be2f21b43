def parse_page_ranges(spec: str) -> list[int]:
    """Expand a page selection such as '1-3, 7, 10-8' into sorted, distinct page numbers;
    a reversed range means the same as the forward one and empty items are ignored."""
    pages: set[int] = set()
    for part in spec.split(","):
        if not part.strip():
            continue
        first, _, last = part.partition("-")
        low, high = sorted((int(first), int(last or first)))
        pages.update(range(low, high + 1))
    return sorted(pages)


def check(candidate):
    assert candidate("1-3, 7, 10-8") == [1, 2, 3, 7, 8, 9, 10]
    assert candidate("5") == [5]
    assert candidate("") == []
    assert candidate("2,2,1-2") == [1, 2]
    assert candidate("4-4,, 6 - 7,") == [4, 6, 7]


ENTRY_POINT = "parse_page_ranges"
