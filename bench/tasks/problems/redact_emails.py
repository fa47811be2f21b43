import re

_EMAIL = re.compile(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b")


def redact_emails(text: str, keep: int = 1) -> str:
    """Hide the local part of every email address in text except its first `keep`
    characters: 'mail jane.doe@example.com' -> 'mail j***@example.com'."""

    def mask(match: re.Match[str]) -> str:
        """The replacement for one address."""
        local, domain = match.group(1), match.group(2)
        return f"{local[:keep]}***@{domain}"

    return _EMAIL.sub(mask, text)


def check(candidate):
    assert candidate("mail jane.doe@example.com") == "mail j***@example.com"
    assert candidate("a@b.org, bob+x@mail.co.uk") == "a***@b.org, b***@mail.co.uk"
    assert candidate("no address here @ all") == "no address here @ all"
    assert candidate("jane.doe@example.com", keep=3) == "jan***@example.com"
    assert candidate("user@localhost") == "user@localhost"
    assert candidate("") == ""


ENTRY_POINT = "redact_emails"
