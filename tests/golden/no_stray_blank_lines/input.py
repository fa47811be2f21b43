def f(x):
    pass


def g():
    return 1
