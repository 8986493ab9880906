"""Fixed-window rate limiting in Redis: one atomic round trip per check (a Lua script that
increments the window's counter and sets its expiry together)."""

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from app.core.errors import AppError, ServiceUnavailableError
from app.core.redis import RedisCircuit, skipped

# KEYS[1] = counter key; ARGV[1] = window length in ms. Returns {count, ms until the window ends}.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class RateLimitedError(AppError):
    status = 429
    code = "rate-limited"
    title = "Too many requests"


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int
    allowed: bool

    def headers(self) -> dict[str, str]:
        """IETF draft RateLimit-* fields, plus Retry-After when the request is refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


class RateLimitUnavailableError(ServiceUnavailableError):
    code = "rate-limit-unavailable"
    title = "Rate limiting unavailable"


class RateLimiter:
    def __init__(self, redis: Redis, circuit: RedisCircuit, *, fail_open: bool) -> None:
        self.redis = redis
        self.circuit = circuit
        self.fail_open = fail_open
        self._hit = redis.register_script(_HIT)
        self._outage = f"rate limit, {'fail open' if fail_open else 'fail closed'}"

    async def hit(self, name: str, key: str, *, limit: int, period_seconds: int) -> RateLimitState:
        """Count one request for (name, key) in the current window. When Redis is down the
        answer follows `fail_open`: allowed (state with no headers worth sending) or 503."""
        window = int(time.time() // period_seconds)
        redis_key = f"ratelimit:{name}:{key}:{window}"
        counted = await self.circuit.call(
            self._outage,
            lambda: self._hit(keys=[redis_key], args=[period_seconds * 1000]),
            fallback=skipped,
        )
        if counted is None:
            return self._without_redis(limit)
        count, ttl_ms = counted
        return RateLimitState(
            limit=limit,
            remaining=max(limit - int(count), 0),
            reset_seconds=max(math.ceil(int(ttl_ms) / 1000), 1),
            allowed=int(count) <= limit,
        )

    def _without_redis(self, limit: int) -> RateLimitState:
        if self.fail_open:
            return RateLimitState(limit=limit, remaining=limit, reset_seconds=0, allowed=True)
        raise RateLimitUnavailableError("Rate limiting is unavailable; retry later.")
