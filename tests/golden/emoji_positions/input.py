GREETING = "héllo 😀"


def shout():
    pass
