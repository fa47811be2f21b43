def normalize_path(path: str) -> str:
    """Resolve '.', '..' and repeated slashes in a POSIX path without looking at the disk.
    '..' cannot climb above the root of an absolute path, while a relative path keeps the
    leading '..' it cannot resolve; an empty result is '.'."""
    absolute = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        elif (part == ".." and not absolute) or part not in ("", ".", ".."):
            parts.append(part)
    joined = "/".join(parts)
    return "/" + joined if absolute else joined or "."


def check(candidate):
    assert candidate("/usr//local/./bin/../lib") == "/usr/local/lib"
    assert candidate("/../etc") == "/etc"
    assert candidate("a/b/../../..") == ".."
    assert candidate("../x/./y/") == "../x/y"
    assert candidate("") == "."
    assert candidate("/") == "/"
    assert candidate("a/..") == "."
    assert candidate("./a/../../b") == "../b"


ENTRY_POINT = "normalize_path"
