import re
import unicodedata


def slugify(title: str, max_length: int = 50) -> str:
    """Turn a title into a URL slug: lowercase ASCII words joined by single hyphens.

    Accents are dropped ('Café' -> 'cafe'), every run of other characters becomes one
    hyphen, and the slug is cut to max_length without leaving a trailing hyphen.
    """
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", plain.lower())
    slug = "-".join(words)[:max_length]
    return slug.rstrip("-")


def check(candidate):
    assert candidate("Hello, World!") == "hello-world"
    assert candidate("Café au lait") == "cafe-au-lait"
    assert candidate("Python 3.12 -- Release Notes") == "python-3-12-release-notes"
    assert candidate("  --  ") == ""
    assert candidate("abc def", 4) == "abc"
    assert candidate("abc def", 5) == "abc-d"
    assert candidate("ÀÉÎÕÜ") == "aeiou"


ENTRY_POINT = "slugify"
