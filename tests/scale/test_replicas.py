"""Replicas are stateless: whatever decides an answer lives in PostgreSQL or Redis, so any
replica answers as any other would. Every check goes through the balancer (nginx, round robin)
and reads which replica answered from `X-Upstream`; `on_every_replica` sends one request to each.
docs/deployment.md, "Running several replicas", lists what a process does keep, and why it is safe.

The cluster runs twice (tests/scale/conftest.py): replicas connected to PostgreSQL directly, and
through PgBouncer in transaction mode."""

import asyncio
import uuid
from collections.abc import Awaitable

import httpx
import pytest

from tests.fixtures.committed import Holder
from tests.scale.calls import (
    PASSWORD,
    REPLICAS,
    Account,
    add_member,
    attempt_login,
    log_in,
    on_every_replica,
    owner_of_a_new_tenant,
    sign_up,
    statuses,
    upstreams,
)
from tests.scale.conftest import LOGIN_LIMIT, Cluster

# demo:begin
# isort: split
from tests.scale.calls import create_project

# demo:end

pytestmark = pytest.mark.scale


class TestLogout:
    async def test_a_logout_on_one_replica_denies_the_token_on_every_replica(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await owner_of_a_new_tenant(client)

        def me() -> Awaitable[httpx.Response]:
            return client.get("/api/v1/users/me", headers=owner.auth)

        # Each replica has now verified the token (and remembers the signature is good).
        assert statuses(await on_every_replica(me)) == [200] * REPLICAS
        logout = await client.post("/api/v1/auth/logout", headers=owner.auth)
        assert logout.status_code == 204

        assert statuses(await on_every_replica(me)) == [401] * REPLICAS
        refreshes = await on_every_replica(
            lambda: client.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh})
        )
        assert statuses(refreshes) == [401] * REPLICAS


class TestRateLimits:
    async def test_the_replicas_count_one_account_together(
        self, cluster: Cluster, client: httpx.AsyncClient
    ) -> None:
        account = await sign_up(client)
        refused = [
            await attempt_login(client, account, "not the password at all")
            for _ in range(LOGIN_LIMIT)
        ]
        assert statuses(refused) == [401] * LOGIN_LIMIT
        assert upstreams(refused) == cluster.addresses  # each replica saw a third of them
        remaining = [int(response.headers["RateLimit-Remaining"]) for response in refused]
        assert remaining == list(range(LOGIN_LIMIT - 1, -1, -1))

        over = await on_every_replica(lambda: attempt_login(client, account, PASSWORD))
        assert statuses(over) == [429] * REPLICAS
        assert all(int(response.headers["Retry-After"]) > 0 for response in over)


class TestIdempotency:
    async def test_a_key_replays_on_every_replica(
        self, cluster: Cluster, client: httpx.AsyncClient
    ) -> None:
        owner = await owner_of_a_new_tenant(client)
        headers = {**owner.auth, "Idempotency-Key": str(uuid.uuid4())}

        def create(email: str) -> Awaitable[httpx.Response]:
            return add_member(client, owner, email, headers)

        first = await create(f"once@{owner.slug}.example")
        assert first.status_code == 201, first.text
        replays = await on_every_replica(lambda: create(f"once@{owner.slug}.example"))
        assert statuses(replays) == [201] * REPLICAS
        assert [response.headers.get("Idempotent-Replayed") for response in replays] == [
            "true"
        ] * REPLICAS
        assert all(response.json() == first.json() for response in replays)
        another = await on_every_replica(lambda: create(f"another@{owner.slug}.example"))
        assert statuses(another) == [422] * REPLICAS
        listed = await client.get("/api/v1/users", headers=owner.auth)
        assert len(listed.json()) == 2  # the owner and the one created, once

    async def test_a_key_in_flight_on_one_replica_is_409_on_every_replica(
        self, cluster: Cluster, client: httpx.AsyncClient
    ) -> None:
        owner = await owner_of_a_new_tenant(client)
        headers = {**owner.auth, "Idempotency-Key": str(uuid.uuid4())}

        def create() -> Awaitable[httpx.Response]:
            return add_member(client, owner, f"in-flight@{owner.slug}.example", headers)

        async with Holder(cluster.owner) as holder:
            # The key's claim (its INSERT checks its tenant's row) waits on the locked tenant,
            # after the replica has marked the key pending in Redis.
            await holder.execute(
                "SELECT FROM tenants WHERE slug = :slug FOR UPDATE", slug=owner.slug
            )
            first = asyncio.ensure_future(create())
            await holder.wait_until_blocking(1, first)
            duplicates = await on_every_replica(create)
            await holder.release()
            created = await first
        assert statuses(duplicates) == [409] * REPLICAS
        assert created.status_code == 201
        replays = await on_every_replica(create)
        assert [response.json() for response in replays] == [created.json()] * REPLICAS


class TestCaches:
    # demo:begin
    async def test_a_write_on_one_replica_is_never_served_stale_by_another(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await owner_of_a_new_tenant(client)
        url = f"/api/v1/projects/{await create_project(client, owner, 'Version 0')}"

        def read() -> Awaitable[httpx.Response]:
            return client.get(url, headers=owner.auth)

        for version in range(1, REPLICAS + 1):  # a write on each replica in turn
            before = await on_every_replica(read)  # each read may fill the shared cache
            assert len({response.headers["ETag"] for response in before}) == 1
            renamed = await client.patch(
                url,
                json={"name": f"Version {version}"},
                headers={**owner.auth, "If-Match": before[0].headers["ETag"]},
            )
            assert renamed.status_code == 200, renamed.text
            after = await on_every_replica(read)
            assert [response.json()["name"] for response in after] == [
                f"Version {version}"
            ] * REPLICAS
            assert {response.headers["ETag"] for response in after} == {renamed.headers["ETag"]}

    # demo:end
    async def test_a_role_change_on_one_replica_holds_on_every_replica(
        self, client: httpx.AsyncClient
    ) -> None:
        owner = await owner_of_a_new_tenant(client)
        created = await add_member(client, owner, f"member@{owner.slug}.example")
        assert created.status_code == 201, created.text
        member = await log_in(
            client, Account(owner.slug, created.json()["email"], created.json()["id"])
        )

        def me() -> Awaitable[httpx.Response]:
            return client.get("/api/v1/users/me", headers=member.auth)

        assert [response.json()["role"] for response in await on_every_replica(me)] == [
            "member"
        ] * REPLICAS
        demoted = await client.patch(
            f"/api/v1/users/{member.user_id}", json={"role": "viewer"}, headers=owner.auth
        )
        assert demoted.status_code == 200, demoted.text

        assert [response.json()["role"] for response in await on_every_replica(me)] == [
            "viewer"
        ] * REPLICAS
        # demo:begin: and the demo's member-only writes are refused on every replica
        writes = await on_every_replica(
            lambda: client.post(
                "/api/v1/projects", json={"name": str(uuid.uuid4())}, headers=member.auth
            )
        )
        assert statuses(writes) == [403] * REPLICAS
        # demo:end
