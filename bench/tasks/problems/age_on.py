from datetime import date


def age_on(birthday: date, on: date) -> int:
    """Age in whole years on a given date. Someone born on 29 February turns a year older
    on 1 March in years that are not leap years."""
    years = on.year - birthday.year
    if (on.month, on.day) < (birthday.month, birthday.day):
        years -= 1
    return years


def check(candidate):
    assert candidate(date(1990, 6, 15), date(2024, 6, 15)) == 34
    assert candidate(date(1990, 6, 15), date(2024, 6, 14)) == 33
    assert candidate(date(2000, 2, 29), date(2001, 2, 28)) == 0
    assert candidate(date(2000, 2, 29), date(2001, 3, 1)) == 1
    assert candidate(date(2024, 1, 1), date(2024, 12, 31)) == 0
    assert candidate(date(1999, 12, 31), date(2000, 1, 1)) == 0


ENTRY_POINT = "age_on"
