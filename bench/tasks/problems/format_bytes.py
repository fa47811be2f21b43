UNITS = ("KiB", "MiB", "GiB", "TiB")


def format_bytes(size: int) -> str:
    """Return a human-readable size in binary units, e.g. 1536 -> '1.5 KiB'.

    Sizes below 1024 are whole bytes ('512 B'); larger ones get one decimal place, and
    anything beyond the last unit stays in TiB.
    """
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    unit_index = 0
    while value >= 1024 and unit_index < len(UNITS) - 1:
        value /= 1024
        unit_index += 1
    return f"{value:.1f} {UNITS[unit_index]}"


def check(candidate):
    assert candidate(0) == "0 B"
    assert candidate(1023) == "1023 B"
    assert candidate(1024) == "1.0 KiB"
    assert candidate(1536) == "1.5 KiB"
    assert candidate(10 * 1024**2 + 512 * 1024) == "10.5 MiB"
    assert candidate(5 * 1024**3) == "5.0 GiB"
    assert candidate(3 * 1024**5) == "3072.0 TiB"


ENTRY_POINT = "format_bytes"
