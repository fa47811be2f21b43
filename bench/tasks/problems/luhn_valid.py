def luhn_valid(number: str) -> bool:
    """Check a card or account number with the Luhn checksum. Spaces are ignored; any
    other non-digit character, or fewer than two digits, makes it invalid."""
    digits = number.replace(" ", "")
    if len(digits) < 2 or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        doubled = int(ch) * (2 if i % 2 else 1)
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def check(candidate):
    assert candidate("4539 1488 0343 6467") is True
    assert candidate("4539 1488 0343 6468") is False
    assert candidate("059") is True
    assert candidate("0") is False
    assert candidate("18") is True
    assert candidate("4539-1488-0343-6467") is False
    assert candidate("79927398713") is True
    assert candidate("") is False


ENTRY_POINT = "luhn_valid"
