def format_phone(raw: str) -> str:
    """Format a North American phone number written with any punctuation as
    '(555) 123-4567'; a leading country code 1 is dropped. Raises ValueError unless ten
    digits remain."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValueError(f"not a phone number: {raw!r}")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def check(candidate):
    assert candidate("555.123.4567") == "(555) 123-4567"
    assert candidate("+1 (555) 123-4567") == "(555) 123-4567"
    assert candidate("5551234567") == "(555) 123-4567"
    assert candidate("1-800-555-0199") == "(800) 555-0199"
    for bad in ["123-4567", "25551234567", "", "555-123-45678"]:
        try:
            candidate(bad)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {bad!r}")


ENTRY_POINT = "format_phone"
