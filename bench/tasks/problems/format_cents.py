def format_cents(cents: int, symbol: str = "$") -> str:
    """Format an amount in integer cents as money with thousands separators:
    -123456 -> '-$1,234.56', 5 -> '$0.05'."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{symbol}{whole:,}.{rest:02d}"


def check(candidate):
    assert candidate(-123456) == "-$1,234.56"
    assert candidate(5) == "$0.05"
    assert candidate(0) == "$0.00"
    assert candidate(100000000) == "$1,000,000.00"
    assert candidate(-99) == "-$0.99"
    assert candidate(1999, "€") == "€19.99"


ENTRY_POINT = "format_cents"
