"""`Cooldown`: what a circuit breaker remembers of a dependency that just failed."""

import time


class Cooldown:
    """After a failure (`trip`), the dependency is skipped for `seconds`: callers take their
    fallback at once instead of each waiting out a timeout, and the first call after that tries
    it again. `log_due` keeps an outage to one log line per `log_interval_seconds`, not one per
    request. `RedisCircuit` (app/core/redis.py) and `ReadReplica` (app/core/replica.py) each keep
    one."""

    def __init__(self, seconds: float, *, log_interval_seconds: float) -> None:
        self.seconds = seconds
        self.log_interval = log_interval_seconds
        self._open_until = float("-inf")
        self._logged_at = float("-inf")

    @property
    def available(self) -> bool:
        """Not cooling down: the dependency may be tried."""
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        """The dependency failed now: skip it for `seconds`."""
        self._open_until = time.monotonic() + self.seconds

    def log_due(self) -> bool:
        """True at most once per log interval (and then the interval starts again)."""
        now = time.monotonic()
        if now - self._logged_at < self.log_interval:
            return False
        self._logged_at = now
        return True

    def reset(self) -> None:
        """Forget the failure and the last log line (a test starting from a known state)."""
        self._open_until = self._logged_at = float("-inf")
