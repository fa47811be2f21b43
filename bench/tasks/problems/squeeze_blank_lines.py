def squeeze_blank_lines(text: str, keep: int = 1) -> str:
    """Text with every run of blank (whitespace-only) lines cut down to at most `keep`
    empty lines, and with no blank lines at the start or end."""
    out: list[str] = []
    blank = 0
    for line in text.splitlines():
        blank = blank + 1 if not line.strip() else 0
        if blank <= keep:
            out.append("" if blank else line)
    return "\n".join(out).strip("\n")


def check(candidate):
    assert candidate("a\n\n\n\nb") == "a\n\nb"
    assert candidate("a\n  \n\t\nb\n\nc", keep=2) == "a\n\n\nb\n\nc"
    assert candidate("\n\n  \nhello\n\n") == "hello"
    assert candidate("a\n\n\nb", keep=0) == "a\nb"
    assert candidate("") == ""
    assert candidate("  indented\nline  ") == "  indented\nline  "


ENTRY_POINT = "squeeze_blank_lines"
