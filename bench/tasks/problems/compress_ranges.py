def compress_ranges(numbers: list[int]) -> str:
    """Describe non-negative integers compactly: [1, 2, 3, 5, 7, 8] -> '1-3,5,7-8'. The
    input may be in any order and hold duplicates."""
    ordered = sorted(set(numbers))
    parts: list[str] = []
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            first, last = ordered[start], ordered[i - 1]
            parts.append(str(first) if first == last else f"{first}-{last}")
            start = i
    return ",".join(parts)


def check(candidate):
    assert candidate([1, 2, 3, 5, 7, 8]) == "1-3,5,7-8"
    assert candidate([]) == ""
    assert candidate([4]) == "4"
    assert candidate([9, 8, 8, 10, 0]) == "0,8-10"
    assert candidate([1, 3, 5]) == "1,3,5"
    assert candidate([0, 1]) == "0-1"


ENTRY_POINT = "compress_ranges"
