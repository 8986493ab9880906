"""Real worker processes against a database of their own (tests/fixtures/worker.py).

Each test stops the workers at the critical point deterministically: an owner transaction holds
`LOCK TABLE outbox IN SHARE MODE`. A worker's claim (`SELECT ... FOR UPDATE`) does not conflict
with it, and neither does its publish to Redis, but marking the rows sent (an UPDATE) waits on
it. So a worker blocked on that lock (`pg_blocking_pids`) has claimed its batch and put it on the
stream, and has not marked it sent: mid-batch. Nothing waits on a timer.

What they show: a worker killed (SIGKILL) there loses nothing, and its batch is published again
after a restart, each repeat recognisable by its event id (at-least-once); two workers at once
hold different tenants' batches and relay 1,000 events without loss or duplicate, each tenant's
in order; on SIGTERM the batch in hand finishes (or, past the shutdown timeout, is abandoned
and left for the next worker) and the process exits 0.
"""

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis

from app.core.events import DomainEvent
from tests.fixtures.committed import Holder
from tests.fixtures.outbox import stream_entries
from tests.fixtures.worker import WorkerDatabase, WorkerProcess, running_worker


async def stream_ids(redis: Redis, tenant_id: uuid.UUID) -> list[str]:
    return [fields["id"] for fields in await stream_entries(redis, tenant_id)]


def ids(events: Sequence[DomainEvent]) -> list[str]:
    return [str(event.id) for event in events]


@asynccontextmanager
async def outbox_locked(database: WorkerDatabase) -> AsyncIterator[Holder]:
    """Workers can claim and publish, but not mark anything sent, until `release()`."""
    async with Holder(database.owner) as holder:
        await holder.execute("LOCK TABLE outbox IN SHARE MODE")
        yield holder


async def until_mid_batch(holder: Holder, *workers: WorkerProcess) -> None:
    """Until every worker waits on the lock, its batch claimed and published (a worker that
    exits first fails the test)."""
    exits = [asyncio.ensure_future(worker.process.wait()) for worker in workers]
    try:
        await holder.wait_until_blocking(len(workers), *exits)
    finally:
        for exit_ in exits:
            exit_.cancel()


async def test_a_worker_killed_mid_batch_loses_nothing_and_its_repeats_carry_their_ids(
    worker_database: WorkerDatabase, redis: Redis, tmp_path: Path
) -> None:
    database = worker_database
    tenants = await database.add_tenants(3)
    committed = {tenant: await database.commit_events(tenant, 10) for tenant in tenants}
    batch = {"EVENTS__RELAY_BATCH_SIZE": "10"}  # one tenant's events per batch

    async with outbox_locked(database) as holder:
        async with running_worker(database.settings, tmp_path, "killed", batch) as killed:
            await until_mid_batch(holder, killed)
            in_flight = [i for tenant in tenants for i in await stream_ids(redis, tenant)]
            assert len(in_flight) == 10  # on the stream, not marked sent

            assert await killed.stop(signal.SIGKILL) == -signal.SIGKILL
        await holder.release()
    # The dead worker's transaction never committed: all 30 are still to send.
    assert await database.unsent() == 30

    async with running_worker(database.settings, tmp_path, "restarted", batch) as restarted:
        await database.wait_until_drained()
        assert await restarted.stop() == 0

    delivered = Counter[str]()
    for tenant in tenants:
        on_stream = await stream_ids(redis, tenant)
        delivered.update(on_stream)
        # None lost, and each tenant's in the order recorded (a repeat comes after its first).
        assert list(dict.fromkeys(on_stream)) == ids(committed[tenant])
    # The repeats are exactly the killed worker's batch, each once more, with the same id.
    assert {event_id: n for event_id, n in delivered.items() if n > 1} == dict.fromkeys(
        in_flight, 2
    )
    assert delivered.total() == 40


async def test_two_workers_at_once_relay_a_thousand_events_without_loss_or_duplicate(
    worker_database: WorkerDatabase, redis: Redis, tmp_path: Path
) -> None:
    database = worker_database
    tenants = await database.add_tenants(10)
    committed = {tenant: await database.commit_events(tenant, 100) for tenant in tenants}
    batch = {"EVENTS__RELAY_BATCH_SIZE": "100"}

    async with (
        running_worker(database.settings, tmp_path, "first", batch) as first,
        running_worker(database.settings, tmp_path, "second", batch) as second,
    ):
        async with outbox_locked(database) as holder:
            await until_mid_batch(holder, first, second)
            # Both hold a batch at once: two tenants, one each (the advisory lock per tenant).
            holding = [t for t in tenants if await stream_ids(redis, t)]
            assert len(holding) == 2
            await holder.release()
        await database.wait_until_drained()
        relayed = (await first.relayed(), await second.relayed())
        assert list(await asyncio.gather(first.stop(), second.stop())) == [0, 0]

    assert sum(relayed) == 1000
    assert min(relayed) >= 100  # each relayed at least the batch it held
    delivered = Counter[str]()
    for tenant in tenants:
        on_stream = await stream_ids(redis, tenant)
        delivered.update(on_stream)
        assert on_stream == ids(committed[tenant])  # all, once, in order
    assert delivered.total() == len(delivered) == 1000


async def test_on_sigterm_the_batch_in_hand_finishes_and_no_other_is_taken(
    worker_database: WorkerDatabase, redis: Redis, tmp_path: Path
) -> None:
    database = worker_database
    first, second = await database.add_tenants(2)
    events = await database.commit_events(first, 10)
    await database.commit_events(second, 10)

    async with (
        outbox_locked(database) as holder,
        running_worker(
            database.settings, tmp_path, "stopped", {"EVENTS__RELAY_BATCH_SIZE": "10"}
        ) as worker,
    ):
        await until_mid_batch(holder, worker)
        worker.process.send_signal(signal.SIGTERM)
        await worker.wait_for_event("SIGTERM: finishing the batch in hand, then stopping")
        await holder.release()

        assert await worker.stop() == 0  # (a second SIGTERM changes nothing)
        await worker.output.finish()
        # Every line of its output one JSON object (`events()` parses them all), ending cleanly.
        assert worker.events()[-2:] == ["worker stopped", "resources closed"]

    assert await stream_ids(redis, first) == ids(events)
    assert await stream_ids(redis, second) == []
    assert await database.unsent() == 10  # the first tenant's batch committed, nothing more


async def test_past_the_shutdown_timeout_the_batch_is_abandoned_for_the_next_worker(
    worker_database: WorkerDatabase, redis: Redis, tmp_path: Path
) -> None:
    database = worker_database
    [tenant] = await database.add_tenants(1)
    await database.commit_events(tenant, 10)
    environment = {"EVENTS__RELAY_BATCH_SIZE": "10", "WORKER__SHUTDOWN_TIMEOUT_SECONDS": "0.5"}

    async with outbox_locked(database) as holder:
        async with running_worker(database.settings, tmp_path, "abandons", environment) as worker:
            await until_mid_batch(holder, worker)

            assert await worker.stop() == 0  # while its batch is still blocked
            assert any("abandoning it" in event for event in worker.events())
            assert await holder.blocked() == 0  # its transaction is gone, locks and all
        await holder.release()

    assert await database.unsent() == 10  # rolled back: the next worker publishes them again
