def abbreviate_name(full_name: str) -> str:
    """Shorten every name but the last to an initial: 'John Ronald Reuel Tolkien' ->
    'J. R. R. Tolkien'. A hyphenated given name keeps its hyphen: 'Jean-Luc Picard' ->
    'J.-L. Picard'. Extra spaces are ignored."""
    *given, last = full_name.split()
    initials = ["-".join(part[0] + "." for part in name.split("-")) for name in given]
    return " ".join([*initials, last])


def check(candidate):
    assert candidate("John Ronald Reuel Tolkien") == "J. R. R. Tolkien"
    assert candidate("Jean-Luc Picard") == "J.-L. Picard"
    assert candidate("Cher") == "Cher"
    assert candidate("  ada   lovelace ") == "a. lovelace"
    assert candidate("Mary Ann Smith-Jones") == "M. A. Smith-Jones"


ENTRY_POINT = "abbreviate_name"
