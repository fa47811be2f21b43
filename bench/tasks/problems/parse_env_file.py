def parse_env_file(text: str) -> dict[str, str]:
    """Parse .env text: KEY=VALUE lines with an optional 'export ' prefix. Blank lines,
    '#' comment lines and lines without '=' are ignored; whitespace around keys and
    values is dropped, and so is one pair of matching quotes around a value."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.removeprefix("export ").split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


def check(candidate):
    text = """
# settings
export DEBUG=1
NAME = "my app"
GREETING='hi = there'
EMPTY=
not a pair
URL=http://x.test/?a=b
"""
    env = candidate(text)
    assert env == {
        "DEBUG": "1",
        "NAME": "my app",
        "GREETING": "hi = there",
        "EMPTY": "",
        "URL": "http://x.test/?a=b",
    }
    assert candidate("") == {}
    assert candidate("A='unbalanced\"") == {"A": "'unbalanced\""}
    assert candidate('Q="') == {"Q": '"'}
    assert candidate("A=1\nA=2") == {"A": "2"}


ENTRY_POINT = "parse_env_file"
