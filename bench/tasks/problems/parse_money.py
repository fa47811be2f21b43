def parse_money(text: str) -> int:
    """Parse an amount such as '$1,234.5', '-$3' or ' 12.05 ' into integer cents.
    Digits past the second decimal place are dropped."""
    cleaned = text.strip().replace(",", "").replace("$", "")
    negative = cleaned.startswith("-")
    whole, _, fraction = cleaned.lstrip("-").partition(".")
    cents = int(whole or 0) * 100 + int((fraction + "00")[:2])
    return -cents if negative else cents


def check(candidate):
    assert candidate("$1,234.5") == 123450
    assert candidate("-$3") == -300
    assert candidate(" 12.05 ") == 1205
    assert candidate(".99") == 99
    assert candidate("0") == 0
    assert candidate("7.129") == 712
    assert candidate("$-0.50") == -50
    assert candidate("1,000,000") == 100000000


ENTRY_POINT = "parse_money"
