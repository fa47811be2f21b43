import re

_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


def extract_hashtags(text: str) -> list[str]:
    """The distinct hashtags in text, lowercased, in order of first appearance. A '#'
    inside a word (as in 'a#b') or doubled ('##x') does not start a tag."""
    tags: list[str] = []
    for tag in _HASHTAG.findall(text):
        if tag.lower() not in tags:
            tags.append(tag.lower())
    return tags


def check(candidate):
    assert candidate("Loving #Python and #python3! #Python") == ["python", "python3"]
    assert candidate("no tags here") == []
    assert candidate("a#b ##c #ok") == ["ok"]
    assert candidate("#one,#two.#three") == ["one", "two", "three"]
    assert candidate("#Mixed #MIXED #mixed") == ["mixed"]


ENTRY_POINT = "extract_hashtags"
