from collections import deque


class RateLimiter:
    """Allows at most `limit` events in any sliding window of `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        """A limiter that has seen no events."""
        self.limit = limit
        self.window = window
        self._events: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Whether an event at time `now` is allowed, recording it if so. Times passed in
        never decrease; an event exactly `window` seconds old no longer counts."""
        while self._events and self._events[0] <= now - self.window:
            self._events.popleft()
        if len(self._events) >= self.limit:
            return False
        self._events.append(now)
        return True


def check(candidate):
    limiter = candidate(2, 10.0)
    assert limiter.allow(0.0) is True
    assert limiter.allow(1.0) is True
    assert limiter.allow(2.0) is False
    assert limiter.allow(9.9) is False
    assert limiter.allow(10.0) is True
    assert limiter.allow(10.5) is False
    assert limiter.allow(11.0) is True
    assert [candidate(1, 1.0).allow(t) for t in (0.0,)] == [True]
    single = candidate(1, 5.0)
    assert [single.allow(t) for t in (0, 1, 5, 6, 10)] == [True, False, True, False, True]


ENTRY_POINT = "RateLimiter"
