"""Housekeeping deletes, in every tenant, the relayed outbox rows past their retention, the
refresh tokens expired for longer than any access token of their session can live, and the
expired idempotency keys, and keeps everything else; and one worker at a time runs it (the
others skip while one holds the advisory lock)."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import RefreshToken
from app.core.db import SessionFactory, lock_key
from app.core.metrics import AppMetrics
from app.core.tenancy import bind_tenant
from app.idempotency.models import IdempotencyKey
from app.outbox.models import OutboxEvent
from app.worker.heartbeat import Heartbeat
from app.worker.housekeeping import LOCK_NAME
from app.worker.loop import Worker
from app.worker.metrics import WorkerMetrics
from tests.fixtures.auth import Org

# As the worker connects: only its login role may run the purge functions.
pytestmark = pytest.mark.worker_role

DAY = timedelta(days=1)


def outbox_row(name: str, *, sent: datetime | None, occurred: datetime) -> OutboxEvent:
    return OutboxEvent(type=name, data={}, occurred_at=occurred, sent_at=sent)


async def arrange(factory: SessionFactory, org: Org) -> None:
    # Read when the test runs, not when the module is imported: a long suite (minutes between
    # collection and this test) would otherwise age "expired lately" past its grace.
    now = datetime.now(UTC)
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        rows = [
            outbox_row("sent long ago", sent=now - 8 * DAY, occurred=now),
            outbox_row("sent lately", sent=now - timedelta(hours=1), occurred=now),
            outbox_row("never sent", sent=None, occurred=now - 30 * DAY),
            *(
                RefreshToken(
                    user_id=org.member.user.id,
                    family_id=uuid.uuid4(),
                    token_hash=name,
                    expires_at=expires,
                )
                for name, expires in [
                    ("expired long ago", now - 2 * DAY),
                    ("expired lately", now - timedelta(minutes=5)),
                    ("still valid", now + DAY),
                ]
            ),
            *(
                IdempotencyKey(key_hash=name, fingerprint="f", created_at=created)
                for name, created in [("old key", now - 2 * DAY), ("new key", now)]
            ),
        ]
        for row in rows:
            row.tenant_id = org.tenant.id
        session.add_all(rows)
        await session.commit()


async def remaining(factory: SessionFactory, org: Org) -> dict[str, set[str]]:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        return {
            "outbox": set(await session.scalars(select(OutboxEvent.type))),
            "refresh_tokens": set(await session.scalars(select(RefreshToken.token_hash))),
            "idempotency_keys": set(await session.scalars(select(IdempotencyKey.key_hash))),
        }


async def test_one_worker_at_a_time_deletes_only_what_is_spent(
    app: FastAPI, engine: AsyncEngine, session_factory: SessionFactory, acme: Org, tmp_path: Path
) -> None:
    await arrange(session_factory, acme)
    before = await remaining(session_factory, acme)
    metrics = WorkerMetrics(AppMetrics())
    worker = Worker(app.state.resources, metrics=metrics, heartbeat=Heartbeat(tmp_path / "beat"))

    # Another worker's housekeeping holds the lock: this one skips, touching nothing.
    async with engine.connect() as other:
        await other.begin()
        assert await other.scalar(select(func.pg_try_advisory_xact_lock(lock_key(LOCK_NAME))))
        assert await worker.housekeep_if_due() is None
        await other.rollback()
    assert await remaining(session_factory, acme) == before
    assert (
        metrics.app.registry.get_sample_value("housekeeping_runs_total", {"outcome": "skipped"})
        == 1
    )

    worker.next_housekeeping = worker.clock()  # due again
    deleted = await worker.housekeep_if_due()

    assert deleted is not None
    assert min(deleted.values()) >= 1  # (the purge spans every tenant of the database)
    assert await remaining(session_factory, acme) == {
        "outbox": {"sent lately", "never sent"},
        "refresh_tokens": {"expired lately", "still valid"},
        "idempotency_keys": {"new key"},
    }
    # Not again before the interval: nothing runs, nothing is even tried.
    assert await worker.housekeep_if_due() is None
    runs = metrics.app.registry.get_sample_value
    assert (
        runs("housekeeping_runs_total", {"outcome": "ran"}),
        runs("housekeeping_runs_total", {"outcome": "skipped"}),
    ) == (1, 1)
