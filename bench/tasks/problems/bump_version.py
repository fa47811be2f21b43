def bump_version(version: str, part: str) -> str:
    """Increase the 'major', 'minor' or 'patch' number of a 'X.Y.Z' version and reset the
    numbers after it: bump_version('1.4.2', 'minor') -> '1.5.0'.

    A leading 'v' is kept. Raises ValueError for an unknown part.
    """
    parts = ("major", "minor", "patch")
    if part not in parts:
        raise ValueError(f"unknown part: {part}")
    prefix = "v" if version.startswith("v") else ""
    numbers = [int(n) for n in version.removeprefix("v").split(".")]
    index = parts.index(part)
    numbers[index] += 1
    numbers[index + 1 :] = [0] * (len(numbers) - index - 1)
    return prefix + ".".join(str(n) for n in numbers)


def check(candidate):
    assert candidate("1.4.2", "minor") == "1.5.0"
    assert candidate("1.4.2", "patch") == "1.4.3"
    assert candidate("1.4.2", "major") == "2.0.0"
    assert candidate("v0.9.9", "patch") == "v0.9.10"
    assert candidate("v0.9.9", "minor") == "v0.10.0"
    try:
        candidate("1.0.0", "build")
    except ValueError:
        pass
    else:
        raise AssertionError("no ValueError for an unknown part")


ENTRY_POINT = "bump_version"
