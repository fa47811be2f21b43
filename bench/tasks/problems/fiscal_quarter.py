from datetime import date


def fiscal_quarter(day: date, start_month: int = 1) -> str:
    """Label the fiscal quarter a date falls in, such as '2024-Q3'.

    The fiscal year begins on the first of start_month and is named after the calendar
    year in which it ends.
    """
    offset = (day.month - start_month) % 12
    quarter = offset // 3 + 1
    year = day.year + 1 if start_month > 1 and day.month >= start_month else day.year
    return f"{year}-Q{quarter}"


def check(candidate):
    assert candidate(date(2024, 8, 15)) == "2024-Q3"
    assert candidate(date(2023, 12, 31)) == "2023-Q4"
    assert candidate(date(2024, 1, 1)) == "2024-Q1"
    assert candidate(date(2024, 8, 15), 7) == "2025-Q1"
    assert candidate(date(2024, 3, 1), 4) == "2024-Q4"
    assert candidate(date(2024, 4, 1), 4) == "2025-Q1"
    assert candidate(date(2024, 6, 30), 4) == "2025-Q1"
    assert candidate(date(2024, 10, 1), 10) == "2025-Q1"


ENTRY_POINT = "fiscal_quarter"
