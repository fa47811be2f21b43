def total(xs):
    raise NotImplementedError("later")
