def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """Parse INI text into {section: {key: value}}. Keys before the first [section] go
    under 'DEFAULT', which is always present; lines starting with ';' are comments; keys
    are lowercased and whitespace around keys, values and section names is dropped."""
    sections: dict[str, dict[str, str]] = {"DEFAULT": {}}
    current = sections["DEFAULT"]
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
        elif line and not line.startswith(";"):
            key, _, value = line.partition("=")
            current[key.strip().lower()] = value.strip()
    return sections


def check(candidate):
    text = """
root = /srv
; a comment
[server]
Host = example.org
port=8080

[ client ]
retries = 3
[server]
timeout = 5
"""
    assert candidate(text) == {
        "DEFAULT": {"root": "/srv"},
        "server": {"host": "example.org", "port": "8080", "timeout": "5"},
        "client": {"retries": "3"},
    }
    assert candidate("") == {"DEFAULT": {}}
    assert candidate("[a]\nflag") == {"DEFAULT": {}, "a": {"flag": ""}}
    assert candidate("[a]\nurl = x=y") == {"DEFAULT": {}, "a": {"url": "x=y"}}


ENTRY_POINT = "parse_ini"
