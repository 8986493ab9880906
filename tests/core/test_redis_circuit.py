"""`RedisCircuit.call` (app/core/redis.py), the one place every Redis caller meets an outage:
which errors fall back, that the fallback is told why, that the circuit then skips Redis, and
that each failure is counted on the metrics the circuit was given and logged once per interval.
The callers' own fallbacks are proven end to end where they are used (a logout with Redis
down: tests/auth/test_router.py)."""

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.core.metrics import AppMetrics
from app.core.redis import CircuitOpenError, RedisCircuit


class Probe:
    """An operation that fails with `error` (or answers "pong"), counting its calls."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return "pong"


def circuit(cooldown: float = 60.0, log_interval: float = 60.0) -> RedisCircuit:
    return RedisCircuit(AppMetrics(), cooldown_seconds=cooldown, log_interval_seconds=log_interval)


def errors_counted(breaker: RedisCircuit) -> float:
    return breaker.metrics.registry.get_sample_value("redis_errors_total") or 0.0


def told(error: Exception) -> Exception:
    return error


async def test_an_answer_passes_through_untouched() -> None:
    breaker = circuit()
    assert await breaker.call("probe", Probe(), fallback=told) == "pong"
    assert errors_counted(breaker) == 0


@pytest.mark.parametrize(
    "error",
    [RedisConnectionError("refused"), RedisTimeoutError("timed out"), OSError("unreachable")],
)
async def test_a_redis_failure_falls_back_is_counted_and_opens_the_circuit(
    error: Exception,
) -> None:
    breaker = circuit()
    failing = Probe(error)

    assert await breaker.call("probe", failing, fallback=told) is error
    skipped_because = await breaker.call("probe", failing, fallback=told)

    assert isinstance(skipped_because, CircuitOpenError)
    assert failing.calls == 1  # the second call did not reach Redis
    assert errors_counted(breaker) == 1


async def test_after_the_cooldown_redis_is_tried_again() -> None:
    breaker = circuit(cooldown=0.0)
    failing = Probe(RedisConnectionError("refused"))

    await breaker.call("probe", failing, fallback=told)
    await breaker.call("probe", failing, fallback=told)

    assert failing.calls == 2
    assert errors_counted(breaker) == 2


async def test_any_other_error_is_a_bug_and_propagates() -> None:
    breaker = circuit()

    with pytest.raises(ValueError, match="a bug"):
        await breaker.call("probe", Probe(ValueError("a bug")), fallback=told)

    assert breaker.available
    assert errors_counted(breaker) == 0


async def test_a_fallback_may_refuse_instead() -> None:
    class RefusedError(Exception):
        pass

    def fail_closed(error: Exception) -> str:
        raise RefusedError from error

    with pytest.raises(RefusedError):
        await circuit().call("probe", Probe(OSError("unreachable")), fallback=fail_closed)


async def test_the_outage_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    breaker = circuit(cooldown=0.0, log_interval=60.0)
    with caplog.at_level(logging.WARNING, logger="app.redis"):
        for _ in range(3):
            await breaker.call("cache read", Probe(OSError("unreachable")), fallback=told)

    [line] = [record.getMessage() for record in caplog.records if record.name == "app.redis"]
    assert line.startswith("Redis unavailable (cache read): OSError: unreachable")
    assert errors_counted(breaker) == 3


async def test_each_circuit_counts_on_its_own_metrics() -> None:
    one, other = circuit(), circuit()
    await one.call("probe", Probe(OSError("unreachable")), fallback=told)
    assert (errors_counted(one), errors_counted(other)) == (1, 0)
