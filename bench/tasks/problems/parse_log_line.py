import re
from datetime import datetime
from typing import Any

_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \[(\w+)\] (?:([\w.]+): )?(.*)")


def parse_log_line(line: str) -> dict[str, Any] | None:
    """Parse a line like '2024-05-01 12:30:00 [error] db.pool: timed out' into its 'time'
    (a datetime), 'level' (upper case), 'logger' (None when absent) and 'message'; None
    when the line does not have that shape."""
    match = _LINE.match(line.strip())
    if match is None:
        return None
    stamp, level, logger, message = match.groups()
    when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    return {"time": when, "level": level.upper(), "logger": logger, "message": message}


def check(candidate):
    assert candidate("2024-05-01 12:30:00 [error] db.pool: timed out") == {
        "time": datetime(2024, 5, 1, 12, 30),
        "level": "ERROR",
        "logger": "db.pool",
        "message": "timed out",
    }
    plain = candidate("1999-12-31 23:59:59 [INFO] starting up: now\n")
    assert plain["logger"] is None and plain["message"] == "starting up: now"
    assert plain["time"].year == 1999
    assert candidate("garbage") is None
    assert candidate("2024-05-01 [INFO] no time") is None
    assert candidate("2024-05-01 00:00:00 [warn] x: y")["logger"] == "x"


ENTRY_POINT = "parse_log_line"
