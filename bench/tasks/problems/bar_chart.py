def bar_chart(counts: dict[str, int], width: int = 20) -> list[str]:
    """Render counts as text bars, one line per label in dict order: the label padded to
    the longest label, a bar of '#' scaled so the largest count gets `width` characters
    (rounded), and the count: 'apples ########## 5'."""
    if not counts:
        return []
    label_width = max(len(label) for label in counts)
    peak = max(counts.values()) or 1
    return [
        f"{label.ljust(label_width)} {'#' * round(value * width / peak)} {value}"
        for label, value in counts.items()
    ]


def check(candidate):
    assert candidate({"apples": 5, "kiwi": 2}, 10) == ["apples ########## 5", "kiwi   #### 2"]
    assert candidate({}) == []
    assert candidate({"a": 0}) == ["a  0"]
    assert candidate({"x": 3, "yy": 1}, 3) == ["x  ### 3", "yy # 1"]
    assert candidate({"one": 1, "two": 2})[1] == "two " + "#" * 20 + " 2"


ENTRY_POINT = "bar_chart"
