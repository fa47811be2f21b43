def compare_versions(a: str, b: str) -> int:
    """Compare dotted version strings numerically: -1 if a < b, 0 if equal, 1 if a > b.

    Missing components count as zero, so '1.2' equals '1.2.0', and '1.10' is after '1.9'.
    """
    left = [int(part) for part in a.split(".")]
    right = [int(part) for part in b.split(".")]
    width = max(len(left), len(right))
    left += [0] * (width - len(left))
    right += [0] * (width - len(right))
    return (left > right) - (left < right)


def check(candidate):
    assert candidate("1.10", "1.9") == 1
    assert candidate("1.2", "1.2.0") == 0
    assert candidate("1.2.0", "1.2") == 0
    assert candidate("0.9.9", "1") == -1
    assert candidate("2.0.1", "2.0.0") == 1
    assert candidate("3", "3") == 0
    assert candidate("1.0.0", "1.0.0.1") == -1


ENTRY_POINT = "compare_versions"
