def pluralize(count: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun, pluralised by simple English rules unless a plural is given:
    '1 file', '3 files', '2 boxes', '2 cities', '2 days', '0 mice' (with plural='mice')."""
    if count == 1:
        return f"{count} {noun}"
    if plural is None:
        if noun.endswith(("s", "x", "z", "ch", "sh")):
            plural = noun + "es"
        elif noun.endswith("y") and noun[-2:-1] not in "aeiou":
            plural = noun[:-1] + "ies"
        else:
            plural = noun + "s"
    return f"{count} {plural}"


def check(candidate):
    assert candidate(1, "file") == "1 file"
    assert candidate(3, "file") == "3 files"
    assert candidate(2, "box") == "2 boxes"
    assert candidate(2, "church") == "2 churches"
    assert candidate(2, "city") == "2 cities"
    assert candidate(2, "day") == "2 days"
    assert candidate(0, "mouse", "mice") == "0 mice"
    assert candidate(1, "mouse", "mice") == "1 mouse"
    assert candidate(-2, "bus") == "-2 buses"


ENTRY_POINT = "pluralize"
