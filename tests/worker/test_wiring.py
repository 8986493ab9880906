"""The worker builds its units of work from the API's own providers, through `resolved`
(docs/dependency-injection.md, "Dependencies outside a request"): a relay batch is
`get_outbox_relay` on `get_session`, `get_settings` and `get_resources`, exactly as a request
would resolve them. So what holds for a request holds here: `overrides` replace any provider
(the test's dict, as `app.dependency_overrides`), yield dependencies close in reverse order when
the batch ends, and the session commits after the batch's work, or rolls back when it raised."""

import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionFactory
from app.core.events import DomainEvent, EventPublisher
from app.core.metrics import AppMetrics
from app.core.resources import Resources
from app.http.deps import get_session
from app.http.outside_request import Provider
from app.outbox.dependencies import get_event_publisher
from app.worker.heartbeat import Heartbeat
from app.worker.loop import PassResult, Worker
from app.worker.metrics import WorkerMetrics
from tests.fixtures.auth import Org
from tests.fixtures.outbox import record_events, recorded

# As the worker connects: only its login role may run the relay's functions.
pytestmark = [pytest.mark.worker_role, pytest.mark.usefixtures("empty_outbox")]


class Publisher:
    """Publishes into the log (or fails, as a bug would: not a `PublishError`)."""

    def __init__(self, log: list[str], *, broken: bool = False) -> None:
        self.log = log
        self.broken = broken

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        if self.broken:
            raise RuntimeError("a bug in the publisher")
        self.log.append(f"published {len(events)}")


def overrides(log: list[str], *, broken: bool = False) -> dict[Provider, Provider]:
    """The real `get_session`, wrapped to log its life (`functools.wraps`: the wrapper resolves
    the original's own sub-dependencies), and a yield provider for the publisher."""

    @functools.wraps(get_session)
    async def session_logged(**arguments: Any) -> AsyncIterator[AsyncSession]:
        log.append("session opened")
        try:
            async with asynccontextmanager(get_session)(**arguments) as session:
                yield session
                log.append("session commits")  # reached only when the block ended normally
        except Exception:
            log.append("session rolled back")
            raise

    async def publisher_logged() -> AsyncIterator[EventPublisher]:
        log.append("publisher opened")
        try:
            yield Publisher(log, broken=broken)
        finally:
            log.append("publisher closed")

    return {get_session: session_logged, get_event_publisher: publisher_logged}


def worker(resources: Resources, tmp_path: Path, log: list[str], *, broken: bool = False) -> Worker:
    return Worker(
        resources,
        metrics=WorkerMetrics(AppMetrics()),
        heartbeat=Heartbeat(tmp_path / "heartbeat"),
        overrides=overrides(log, broken=broken),
    )


async def test_a_batch_runs_on_the_overridden_providers_and_closes_them_in_reverse_order(
    app: FastAPI, session_factory: SessionFactory, acme: Org, tmp_path: Path
) -> None:
    await record_events(session_factory, acme.tenant.id, 2)
    log: list[str] = []

    sent, failed = await worker(app.state.resources, tmp_path, log).relay()

    assert (sent, failed) == (2, 0)
    assert log == [
        "session opened",
        "publisher opened",
        "published 2",
        "publisher closed",  # last in, first out
        "session commits",
    ]
    rows = await recorded(session_factory, acme.tenant.id)
    assert all(row.sent_at is not None for row in rows)  # the commit happened


async def test_a_batch_that_raises_rolls_back_and_the_next_pass_goes_on(
    app: FastAPI, session_factory: SessionFactory, acme: Org, tmp_path: Path
) -> None:
    await record_events(session_factory, acme.tenant.id, 2)
    log: list[str] = []
    broken = worker(app.state.resources, tmp_path, log, broken=True)

    with pytest.raises(RuntimeError, match="a bug in the publisher"):
        await broken.relay()
    assert log == ["session opened", "publisher opened", "publisher closed", "session rolled back"]
    assert all(row.sent_at is None for row in await recorded(session_factory, acme.tenant.id))

    # A whole pass survives it: counted, logged, and the heartbeat says "not ready".
    assert await broken.pass_once() is None
    registry = broken.metrics.app.registry
    assert registry.get_sample_value("worker_pass_errors_total") == 1
    beat = broken.heartbeat.read()
    assert beat is not None
    assert (beat.ready, beat.detail) == (False, "the last pass failed: RuntimeError")


async def test_a_pass_relays_measures_the_backlog_and_beats(
    app: FastAPI, session_factory: SessionFactory, acme: Org, tmp_path: Path
) -> None:
    await record_events(session_factory, acme.tenant.id, 2)
    log: list[str] = []
    healthy = worker(app.state.resources, tmp_path, log)

    assert await healthy.pass_once() == PassResult(sent=2, failed_publishes=0, pending=0)
    beat = healthy.heartbeat.read()
    assert beat is not None
    assert (beat.ready, beat.detail) == (True, "0 events pending")
    registry = healthy.metrics.app.registry
    assert registry.get_sample_value("outbox_events_relayed_total") == 2
    assert registry.get_sample_value("outbox_pending_events") == 0
