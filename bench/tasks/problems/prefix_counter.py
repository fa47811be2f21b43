from typing import Any


class PrefixCounter:
    """Counts how many of the words added so far start with a given prefix, using a trie
    of nested dicts."""

    def __init__(self) -> None:
        """A counter with no words."""
        self.root: dict[str, Any] = {"count": 0, "children": {}}

    def add(self, word: str) -> None:
        """Add one occurrence of word (a word added twice counts twice)."""
        node = self.root
        node["count"] += 1
        for ch in word:
            node = node["children"].setdefault(ch, {"count": 0, "children": {}})
            node["count"] += 1

    def count(self, prefix: str) -> int:
        """How many added words start with prefix; '' matches every word."""
        node = self.root
        for ch in prefix:
            if ch not in node["children"]:
                return 0
            node = node["children"][ch]
        return node["count"]


def check(candidate):
    words = candidate()
    assert words.count("") == 0
    for word in ["car", "cart", "care", "dog", "car"]:
        words.add(word)
    assert words.count("car") == 4
    assert words.count("cart") == 1
    assert words.count("c") == 4 and words.count("d") == 1
    assert words.count("") == 5
    assert words.count("cars") == 0
    assert words.count("x") == 0
    words.add("")
    assert words.count("") == 6


ENTRY_POINT = "PrefixCounter"
