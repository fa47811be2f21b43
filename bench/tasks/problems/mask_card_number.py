def mask_card_number(number: str, visible: int = 4) -> str:
    """Replace all but the last `visible` digits of a card number with '*', keeping spaces
    and dashes where they are: '4111 1111 1111 1234' -> '**** **** **** 1234'."""
    total = sum(ch.isdigit() for ch in number)
    seen = 0
    masked = []
    for ch in number:
        if ch.isdigit():
            seen += 1
            masked.append(ch if seen > total - visible else "*")
        else:
            masked.append(ch)
    return "".join(masked)


def check(candidate):
    assert candidate("4111 1111 1111 1234") == "**** **** **** 1234"
    assert candidate("5500-0000-0000-0004", 2) == "****-****-****-**04"
    assert candidate("123") == "123"
    assert candidate("") == ""
    assert candidate("12345678", 0) == "********"
    assert candidate("9876543210") == "******3210"


ENTRY_POINT = "mask_card_number"
