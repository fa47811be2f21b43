def split_csv_line(line: str) -> list[str]:
    """Split one line of CSV into fields at commas. Double quotes group text so it may
    contain commas; the quotes themselves are not part of the field."""
    fields = [""]
    in_quotes = False
    for ch in line:
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "," and not in_quotes:
            fields.append("")
        else:
            fields[-1] += ch
    return fields


def check(candidate):
    assert candidate("a,b,c") == ["a", "b", "c"]
    assert candidate('name,"Smith, John",42') == ["name", "Smith, John", "42"]
    assert candidate("") == [""]
    assert candidate(",,") == ["", "", ""]
    assert candidate('"",x') == ["", "x"]
    assert candidate(" a , b ") == [" a ", " b "]


ENTRY_POINT = "split_csv_line"
