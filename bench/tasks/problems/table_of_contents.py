import re

_HEADING = re.compile(r"(#{1,6})\s+(.+?)\s*#*\s*$")


def table_of_contents(markdown: str) -> list[str]:
    """An indented outline of the '#'-style headings in markdown: '## Setup' becomes
    '  - Setup' (two spaces per level below the first). Lines inside ``` fences are
    skipped, and so are '#' lines without a space after the hashes."""
    toc: list[str] = []
    in_fence = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and (match := _HEADING.match(line)):
            toc.append("  " * (len(match.group(1)) - 1) + "- " + match.group(2))
    return toc


def check(candidate):
    text = "\n".join(
        [
            "# Guide",
            "intro #notaheading",
            "## Install ##",
            "```sh",
            "# a shell comment",
            "```",
            "### Linux",
            "#hashtag",
            "## Use",
        ]
    )
    assert candidate(text) == ["- Guide", "  - Install", "    - Linux", "  - Use"]
    assert candidate("") == []
    assert candidate("plain text\nmore") == []
    assert candidate("###### Deep") == ["          - Deep"]
    assert candidate("```\n# hidden\n") == []


ENTRY_POINT = "table_of_contents"
