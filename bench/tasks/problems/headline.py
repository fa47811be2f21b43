SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "in", "of", "on", "or", "the"}


def headline(text: str) -> str:
    """Title-case a headline: capitalise the first letter of every word, except small
    words such as 'of' and 'the' that are neither first nor last. Words that already hold
    a capital letter ('iPhone', 'NASA') are kept as they are."""
    words = text.split()
    result = []
    for i, word in enumerate(words):
        inner = 0 < i < len(words) - 1
        if word != word.lower() or (inner and word in SMALL_WORDS):
            result.append(word)
        else:
            result.append(word[0].upper() + word[1:])
    return " ".join(result)


def check(candidate):
    assert candidate("the lord of the rings") == "The Lord of the Rings"
    assert candidate("a tale of two cities") == "A Tale of Two Cities"
    assert candidate("what it is made of") == "What It Is Made Of"
    assert candidate("why the iPhone beat NASA") == "Why the iPhone Beat NASA"
    assert candidate("") == ""
    assert candidate("  spaced   out ") == "Spaced Out"
    assert candidate("and") == "And"


ENTRY_POINT = "headline"
