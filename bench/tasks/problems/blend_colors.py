def parse_hex_color(color: str) -> tuple[int, int, int]:
    """'#ff8800', or the short form '#f80', as an (r, g, b) tuple."""
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def blend_colors(start: str, end: str, t: float) -> str:
    """The colour a fraction t (0 to 1) of the way from start to end, as '#rrggbb';
    each channel is rounded to the nearest integer."""
    a, b = parse_hex_color(start), parse_hex_color(end)
    mixed = (round(x + (y - x) * t) for x, y in zip(a, b))
    return "#" + "".join(f"{v:02x}" for v in mixed)


def check(candidate):
    assert candidate("#000000", "#ffffff", 0.5) == "#808080"
    assert candidate("#f80", "#f80", 0.3) == "#ff8800"
    assert candidate("#ff0000", "#0000ff", 0) == "#ff0000"
    assert candidate("#ff0000", "#0000FF", 1) == "#0000ff"
    assert candidate("#102030", "#305070", 0.25) == "#182c40"
    assert candidate("fff", "#000", 0.1) == "#e6e6e6"


ENTRY_POINT = "blend_colors"
