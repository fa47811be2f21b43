from dataclasses import dataclass
from typing import Any


@dataclass
class Page:
    items: list[Any]
    number: int
    total_pages: int

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self.number < self.total_pages


def paginate(items: list[Any], page: int, per_page: int = 10) -> Page:
    """Page `page` (counting from 1) of items, per_page at a time. There is always at least
    one page; a page number outside the range gets no items."""
    total_pages = max(1, -(-len(items) // per_page))
    start = (page - 1) * per_page
    chunk = items[start : start + per_page] if page >= 1 else []
    return Page(chunk, page, total_pages)


def check(candidate):
    items = list(range(25))
    first = candidate(items, 1)
    assert first.items == list(range(10)) and first.total_pages == 3 and first.has_next
    last = candidate(items, 3)
    assert last.items == [20, 21, 22, 23, 24] and not last.has_next
    assert candidate(items, 4).items == []
    assert candidate(items, 0).items == []
    assert candidate(items, -1).items == []
    empty = candidate([], 1)
    assert empty.total_pages == 1 and empty.items == [] and not empty.has_next
    assert candidate(items, 2, per_page=5).items == [5, 6, 7, 8, 9]
    assert candidate(list(range(20)), 1).total_pages == 2


ENTRY_POINT = "paginate"
