import operator

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def eval_rpn(tokens: list[str]) -> float:
    """Evaluate a reverse Polish notation expression such as ['3', '4', '+', '2', '*'].

    Raises ValueError if the expression does not leave exactly one value.
    """
    stack: list[float] = []
    for token in tokens:
        if token in OPERATORS:
            right, left = stack.pop(), stack.pop()
            stack.append(OPERATORS[token](left, right))
        else:
            stack.append(float(token))
    if len(stack) != 1:
        raise ValueError("malformed expression")
    return stack[0]


def check(candidate):
    assert candidate(["3", "4", "+", "2", "*"]) == 14.0
    assert candidate(["10", "4", "-"]) == 6.0
    assert candidate(["1", "2", "/"]) == 0.5
    assert candidate(["2.5"]) == 2.5
    assert candidate(["5", "1", "2", "+", "4", "*", "+", "3", "-"]) == 14.0
    for bad in [[], ["1", "2"]]:
        try:
            candidate(bad)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {bad}")


ENTRY_POINT = "eval_rpn"
