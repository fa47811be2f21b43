def f(x):
    y = x + x
    return y
