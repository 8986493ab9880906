"""A replica dies (SIGKILL) while it serves: no write it acknowledged is lost, and the balancer's
retries never run a write twice.

Two kinds of requests are in flight when the replica dies. A steady load of user creates through
the balancer, and three creates held inside the replicas (one each: consecutive requests of a
round robin) at their INSERT, whose foreign-key check waits on their tenant's row, locked by this
test. So the dead replica is certainly serving a write when it dies, whatever the timing.
Afterwards every 2xx is a row with its id, no name is stored twice, and the held request of the
dead replica is stored nowhere."""

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text

from tests.fixtures.committed import Holder
from tests.fixtures.nginx import UPSTREAM
from tests.scale.calls import PASSWORD, REPLICAS, Account, owner_of_a_new_tenant
from tests.scale.conftest import Cluster

pytestmark = pytest.mark.scale

WORKERS = 12
ACKNOWLEDGED_BEFORE = ACKNOWLEDGED_AFTER = 30
VICTIM = 1


@dataclass(frozen=True)
class Outcome:
    title: str
    status: int
    upstream: str
    user_id: str | None


@dataclass
class Load:
    """User creates through the balancer from `WORKERS` concurrent clients, each with a name of
    its own, until stopped; every outcome recorded."""

    client: httpx.AsyncClient
    account: Account
    outcomes: list[Outcome] = field(default_factory=list)
    _numbers: Iterator[int] = field(default_factory=itertools.count)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _workers: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work()) for _ in range(WORKERS)]

    async def _work(self) -> None:
        while not self._stopped.is_set():
            outcome = await create_user(self.client, self.account, f"load-{next(self._numbers)}")
            async with self._changed:
                self.outcomes.append(outcome)
                self._changed.notify_all()

    def acknowledged(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == 201]

    async def wait_for_acknowledged(self, count: int) -> None:
        async with asyncio.timeout(60), self._changed:
            await self._changed.wait_for(lambda: len(self.acknowledged()) >= count)

    async def stop(self) -> None:
        self._stopped.set()
        await asyncio.gather(*self._workers)


async def create_user(client: httpx.AsyncClient, account: Account, title: str) -> Outcome:
    body = {
        "email": f"{title}@{account.slug}.example",
        "password": PASSWORD,
        "full_name": title,
        "role": "viewer",
    }
    response = await client.post("/api/v1/users", json=body, headers=account.auth)
    user_id = response.json()["id"] if response.status_code == 201 else None
    return Outcome(title, response.status_code, response.headers[UPSTREAM], user_id)


async def stored_users(cluster: Cluster, *accounts: Account) -> list[tuple[str, str]]:
    """(name, id) of every user the test created in the accounts' tenants, read by the owner."""
    async with cluster.owner.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT users.full_name, users.id::text FROM users "
                "JOIN tenants ON tenants.id = users.tenant_id "
                "WHERE tenants.slug = ANY(:slugs) AND users.full_name <> 'O'"
            ),
            {"slugs": [account.slug for account in accounts]},
        )
    return [(row.full_name, row.id) for row in rows]


async def test_killing_a_replica_mid_load_loses_no_acknowledged_write(
    cluster: Cluster, client: httpx.AsyncClient
) -> None:
    owner = await owner_of_a_new_tenant(client)
    held_owner = await owner_of_a_new_tenant(client)  # of another tenant, whose row is locked
    load = Load(client, owner)
    async with Holder(cluster.owner) as holder:
        # A user's INSERT checks its tenant's row: locked, the held creates wait there.
        await holder.execute(
            "SELECT FROM tenants WHERE slug = :slug FOR UPDATE", slug=held_owner.slug
        )
        held: list[asyncio.Future[Outcome]] = []
        for number in range(REPLICAS):
            held.append(asyncio.ensure_future(create_user(client, held_owner, f"held-{number}")))
            await holder.wait_until_blocking(number + 1, *held)
        load.start()
        await load.wait_for_acknowledged(ACKNOWLEDGED_BEFORE)
        await cluster.kill(VICTIM)
        await load.wait_for_acknowledged(len(load.acknowledged()) + ACKNOWLEDGED_AFTER)
        await load.stop()
        await holder.release()
        held_outcomes = await asyncio.gather(*held)
    await cluster.restart(VICTIM)

    victim = cluster.address(VICTIM)
    # One held create per replica; the dead one's never got an answer from it: 502.
    assert sorted((outcome.status, outcome.upstream == victim) for outcome in held_outcomes) == [
        (201, False),
        (201, False),
        (502, True),
    ]
    outcomes = load.outcomes + held_outcomes
    stored = await stored_users(cluster, owner, held_owner)
    assert [
        title for title, count in Counter(title for title, _ in stored).items() if count > 1
    ] == []
    stored_ids = dict(stored)
    lost = [o for o in outcomes if o.status == 201 and stored_ids.get(o.title) != o.user_id]
    assert lost == []
    assert next(o.title for o in held_outcomes if o.status == 502) not in stored_ids
    # Requests the balancer sent to the dead replica failed to connect and went to the next one
    # (`X-Upstream` names both): each of them was stored once, as acknowledged.
    retried = [outcome for outcome in load.outcomes if outcome.upstream.startswith(f"{victim}, ")]
    assert retried
    assert {outcome.status for outcome in retried} == {201}
    assert len(load.acknowledged()) >= ACKNOWLEDGED_BEFORE + ACKNOWLEDGED_AFTER
    assert all(outcome.status in (201, 502) for outcome in load.outcomes), Counter(
        outcome.status for outcome in load.outcomes
    )
