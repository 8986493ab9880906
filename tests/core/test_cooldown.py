"""`Cooldown` (app/core/cooldown.py), on a clock the test moves."""

import time

import pytest

from app.core.cooldown import Cooldown


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


def test_a_trip_skips_the_dependency_for_its_seconds_then_lets_a_call_through(
    clock: list[float],
) -> None:
    breaker = Cooldown(5.0, log_interval_seconds=60.0)
    assert breaker.available

    breaker.trip()
    clock[0] += 4.999
    assert not breaker.available
    clock[0] += 0.001
    assert breaker.available


def test_an_outage_is_due_a_log_line_once_per_interval(clock: list[float]) -> None:
    breaker = Cooldown(0.0, log_interval_seconds=30.0)

    due = []
    for _ in range(4):
        due.append(breaker.log_due())
        clock[0] += 10.0
    assert due == [True, False, False, True]


def test_reset_forgets_the_failure_and_the_last_line(clock: list[float]) -> None:
    breaker = Cooldown(5.0, log_interval_seconds=30.0)
    breaker.trip()
    assert breaker.log_due()

    breaker.reset()

    assert breaker.available
    assert breaker.log_due()
