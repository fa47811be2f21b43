def bin_counts(values: list[float], width: float) -> dict[float, int]:
    """Count values per bin of the given width. A bin is keyed by its lower edge (with
    width 5, the value 7 falls in bin 5 and -1 in bin -5); keys come out sorted and empty
    bins are left out."""
    counts: dict[float, int] = {}
    for value in values:
        edge = (value // width) * width
        counts[edge] = counts.get(edge, 0) + 1
    return dict(sorted(counts.items()))


def check(candidate):
    assert candidate([7, 1, 12, 5, 9], 5) == {0: 1, 5: 3, 10: 1}
    assert list(candidate([30, 1, 12], 10)) == [0, 10, 30]
    assert candidate([], 2) == {}
    assert candidate([-1, 0, 4.9], 5) == {-5: 1, 0: 2}
    assert candidate([0.25, 0.75, 0.5], 0.5) == {0.0: 1, 0.5: 2}


ENTRY_POINT = "bin_counts"
