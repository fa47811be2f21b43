from functools import cache


@cache
def wildcard_match(pattern: str, text: str) -> bool:
    """Whether the whole of text matches pattern, in which '?' stands for any one
    character and '*' for any run of characters, the empty run included."""
    if not pattern:
        return not text
    if pattern[0] == "*":
        return wildcard_match(pattern[1:], text) or (
            bool(text) and wildcard_match(pattern, text[1:])
        )
    if text and pattern[0] in ("?", text[0]):
        return wildcard_match(pattern[1:], text[1:])
    return False


def check(candidate):
    assert candidate("*.py", "main.py") is True
    assert candidate("*.py", "main.pyc") is False
    assert candidate("data_??.csv", "data_07.csv") is True
    assert candidate("data_??.csv", "data_7.csv") is False
    assert candidate("", "") is True
    assert candidate("", "x") is False
    assert candidate("*", "") is True
    assert candidate("a*b*c", "aXXbYYc") is True
    assert candidate("a*b*c", "aXXbYY") is False
    assert candidate("?", "") is False


ENTRY_POINT = "wildcard_match"
