def wrap_words(text: str, width: int) -> list[str]:
    """Greedily wrap text into lines of at most `width` characters, breaking only between
    words; any run of whitespace separates words. A word longer than width gets a line
    to itself."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def check(candidate):
    assert candidate("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]
    assert candidate("", 10) == []
    assert candidate("a bb ccc", 4) == ["a bb", "ccc"]
    assert candidate("extraordinary word", 5) == ["extraordinary", "word"]
    assert candidate("  spaced \n out  ", 20) == ["spaced out"]
    assert candidate("one two", 7) == ["one two"]


ENTRY_POINT = "wrap_words"
