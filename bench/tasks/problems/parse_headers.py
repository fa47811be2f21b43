def parse_headers(lines: list[str]) -> dict[str, str]:
    """Parse 'Name: value' header lines into a dict keyed by lowercase name. A repeated
    header's values are joined with ', ', and a line starting with whitespace continues
    the previous header's value (joined with one space)."""
    headers: dict[str, str] = {}
    name = ""
    for line in lines:
        if line[:1].isspace() and name:
            headers[name] += " " + line.strip()
            continue
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    return headers


def check(candidate):
    lines = [
        "Content-Type: text/html",
        "Accept: text/plain",
        "accept: application/json",
        "X-Long: first part",
        "   second part",
        "Host:example.org",
    ]
    assert candidate(lines) == {
        "content-type": "text/html",
        "accept": "text/plain, application/json",
        "x-long": "first part second part",
        "host": "example.org",
    }
    assert candidate([]) == {}
    assert candidate(["Empty:"]) == {"empty": ""}
    assert candidate([" Folded: x"]) == {"folded": "x"}
    assert candidate(["Time: 12:30:00"]) == {"time": "12:30:00"}


ENTRY_POINT = "parse_headers"
