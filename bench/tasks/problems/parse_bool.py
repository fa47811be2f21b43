TRUE_WORDS = {"1", "true", "yes", "on", "y"}
FALSE_WORDS = {"0", "false", "no", "off", "n", ""}


def parse_bool(value: str | int | None, default: bool = False) -> bool:
    """Read a setting as a bool: None gives default, bools and numbers are true when
    non-zero, and strings such as 'Yes' or ' off ' are matched without regard to case or
    surrounding space. Raises ValueError for any other string."""
    if value is None:
        return default
    if isinstance(value, int):
        return value != 0
    text = value.strip().lower()
    if text not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"not a boolean: {value!r}")
    return text in TRUE_WORDS


def check(candidate):
    assert candidate("Yes") is True
    assert candidate(" off ") is False
    assert candidate(None) is False and candidate(None, default=True) is True
    assert candidate(True) is True and candidate(False) is False
    assert candidate(2) is True and candidate(0) is False
    assert candidate("") is False
    assert candidate("ON") is True
    for bad in ["maybe", "2", "truthy"]:
        try:
            candidate(bad)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {bad!r}")


ENTRY_POINT = "parse_bool"
