def allocate(total: int, weights: list[int]) -> list[int]:
    """Split an integer total in proportion to positive weights so that the parts add up
    to the total exactly: each part gets its rounded-down share and the units left over
    go to the parts with the largest remainders (the earlier part on a tie)."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    leftover = total - sum(shares)
    for i in sorted(range(len(weights)), key=lambda k: -remainders[k])[:leftover]:
        shares[i] += 1
    return shares


def check(candidate):
    assert candidate(100, [1, 1, 1]) == [34, 33, 33]
    assert candidate(10, [1, 2, 2]) == [2, 4, 4]
    assert candidate(7, [5]) == [7]
    assert candidate(0, [3, 4]) == [0, 0]
    assert candidate(5, [1, 1, 2]) == [1, 1, 3]
    assert candidate(2, [1, 1, 1]) == [1, 1, 0]
    assert sum(candidate(1001, [3, 7, 11, 13])) == 1001


ENTRY_POINT = "allocate"
