GREETING = "héllo 😀"


def shout():
    return GREETING.upper()
