def bowling_score(rolls: list[int]) -> int:
    """The score of a complete game of ten-pin bowling, given the pins knocked down by
    each roll in order (bonus rolls of the tenth frame included)."""
    score, i = 0, 0
    for _ in range(10):
        frame = rolls[i] + rolls[i + 1]
        if rolls[i] == 10 or frame == 10:
            score += frame + rolls[i + 2]
        else:
            score += frame
        i += 1 if rolls[i] == 10 else 2
    return score


def check(candidate):
    assert candidate([0] * 20) == 0
    assert candidate([1] * 20) == 20
    assert candidate([10] * 12) == 300
    assert candidate([5, 5] * 10 + [5]) == 150
    assert candidate([10, 3, 4] + [0] * 16) == 24
    assert candidate([6, 4, 3, 0] + [0] * 16) == 16
    assert candidate([0] * 18 + [10, 10, 10]) == 30
    assert candidate([9, 0] * 9 + [7, 3, 2]) == 93


ENTRY_POINT = "bowling_score"
