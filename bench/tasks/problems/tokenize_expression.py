import re

_TOKEN = re.compile(r"\d+(?:\.\d+)?|\S")


def tokenize_expression(text: str) -> list[str]:
    """Split an arithmetic expression into number, operator and parenthesis tokens,
    ignoring whitespace: '12*(3.5+x)' is rejected with ValueError because of the 'x';
    only digits, '.', '+', '-', '*', '/', '(' and ')' are allowed."""
    tokens = _TOKEN.findall(text)
    for token in tokens:
        if not token[0].isdigit() and token not in "+-*/()":
            raise ValueError(f"unexpected character {token!r}")
    return tokens


def check(candidate):
    assert candidate("12*(3.5+4)") == ["12", "*", "(", "3.5", "+", "4", ")"]
    assert candidate("  1 +  2 ") == ["1", "+", "2"]
    assert candidate("") == []
    assert candidate("7/-2") == ["7", "/", "-", "2"]
    for bad in ["2 ^ 3", "1 + x", "3 % 2"]:
        try:
            candidate(bad)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {bad!r}")


ENTRY_POINT = "tokenize_expression"
