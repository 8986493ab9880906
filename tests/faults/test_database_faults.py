"""PostgreSQL faults under a running app (docs/operations.md, "Faults and how the service
recovers"): connections killed mid-request and while pooled, a statement past
DATABASE__STATEMENT_TIMEOUT_MS, a pool with no free connection, and a server refusing new
connections. Each is a 503 problem with `Retry-After` (`database_error_handler` in
app/http/problems.py), answered within its bound, and the next requests succeed on fresh
connections, with no restart of the app.

The app under test has its own engine (`running`), so killing its connections touches nothing
else. The requests are held at the critical point by a transaction holding a lock (`Holder`),
and released once PostgreSQL reports them waiting on it: no sleep decides an order.
"""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import DatabaseSettings, Settings
from tests.faults.conftest import running
from tests.fixtures.committed import CommittedOrg, Holder
from tests.fixtures.ports import unused_port
from tests.fixtures.problems import assert_problem
from tests.fixtures.settings import TEST_DATABASE_OWNER_URL, TEST_DATABASE_URL, make_settings

USERS = "/api/v1/users"  # a read of a tenant-owned table, for an admin
POOL = 4  # DATABASE__POOL_SIZE of the app under test (no overflow)
BOUND_SECONDS = 20  # no scenario may take longer: a hang fails the test instead


def database(**fields: Any) -> Settings:
    return make_settings(
        database=DatabaseSettings(
            url=fields.pop("url", TEST_DATABASE_URL),
            migration_url=TEST_DATABASE_OWNER_URL,
            pool_size=fields.pop("pool_size", POOL),
            max_overflow=0,
            **fields,
        )
    )


def assert_unavailable(response: Response) -> None:
    """The 503 a database fault answers: a problem, with a `Retry-After` a client can obey."""
    problem = assert_problem(response, 503)
    assert problem["type"].endswith("database-unavailable")
    assert int(response.headers["retry-after"]) >= 1


def backends_of(engine: AsyncEngine) -> list[int]:
    """The server pid of each connection the engine hands out from now on, in order (a pool
    event)."""
    pids: list[int] = []

    def checked_out(dbapi_connection: Any, *_: Any) -> None:
        pids.append(dbapi_connection.driver_connection.get_server_pid())

    event.listen(engine.sync_engine.pool, "checkout", checked_out)
    return pids


async def blocked_by(holder: Holder, count: int) -> set[int]:
    """Wait until `count` backends wait on the holder's locks; their pids."""
    statement = text("SELECT pid FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))")
    while True:
        pids = set((await holder.watcher.scalars(statement, {"holder": holder.pid})).all())
        if len(pids) >= count:
            assert len(pids) == count, pids
            return pids
        await asyncio.sleep(0.01)


async def terminate(owner: AsyncEngine, pids: set[int]) -> None:
    """`pg_terminate_backend` each pid, as an operator or a failover would; returns once they
    are gone from pg_stat_activity."""
    async with owner.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        for pid in pids:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        gone = text("SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = ANY(:pids))")
        while True:
            if await connection.scalar(gone, {"pids": list(pids)}):
                return
            await asyncio.sleep(0.01)


async def until_done(requests: list["asyncio.Task[Response]"], count: int) -> list[Response]:
    """Wait until `count` of the requests have answered; their responses."""
    while len(done := [request for request in requests if request.done()]) < count:
        waiting = [request for request in requests if not request.done()]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    return [request.result() for request in done]


class TestConnectionsKilled:
    async def test_in_flight_requests_answer_503_and_the_waiting_ones_get_fresh_connections(
        self, committed_org: CommittedOrg
    ) -> None:
        """2 x POOL concurrent reads: POOL hold the pool's connections, blocked on a table lock,
        and POOL wait for a connection. The holders' backends are terminated: exactly those
        requests answer 503, the waiting ones get new connections and answer 200."""
        headers = committed_org.admin.headers
        async with running(database(pool_timeout_seconds=BOUND_SECONDS)) as (_, client):
            assert (await client.get(USERS, headers=headers)).status_code == 200
            async with asyncio.timeout(BOUND_SECONDS), Holder(committed_org.owner) as holder:
                await holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                requests = [
                    asyncio.create_task(client.get(USERS, headers=headers)) for _ in range(2 * POOL)
                ]
                killed = await blocked_by(holder, POOL)
                await terminate(committed_org.owner, killed)
                finished = await until_done(requests, POOL)  # the others wait on the lock
                reconnected = await blocked_by(holder, POOL)
                await holder.connection.rollback()  # release the lock
                answered = await asyncio.gather(*requests)

        for response in finished:
            assert_unavailable(response)
        assert Counter(response.status_code for response in answered) == {503: POOL, 200: POOL}
        assert not killed & reconnected  # fresh connections, not the dead ones

    @pytest.mark.parametrize(
        ("pre_ping", "statuses"),
        [
            # One request draws a dead connection and answers 503; SQLAlchemy then retires the
            # pool's other connections, so every later request connects afresh.
            (False, [503, 200, 200, 200, 200]),
            # A pre-ping finds the dead connection at checkout and replaces it: no error at all.
            (True, [200, 200, 200, 200, 200]),
        ],
    )
    async def test_idle_pooled_connections_killed(
        self, committed_org: CommittedOrg, pre_ping: bool, statuses: list[int]
    ) -> None:
        headers = committed_org.admin.headers
        async with running(database(pool_pre_ping=pre_ping)) as (app, client):
            used = backends_of(app.state.resources.engine)
            reads = [client.get(USERS, headers=headers) for _ in range(POOL)]
            assert {response.status_code for response in await asyncio.gather(*reads)} == {200}
            pooled = set(used)
            await terminate(committed_org.owner, pooled)
            used.clear()
            async with asyncio.timeout(BOUND_SECONDS):
                answered = [await client.get(USERS, headers=headers) for _ in statuses]

        assert [response.status_code for response in answered] == statuses
        assert len(used) == len(statuses)  # one connection drawn per request, in order
        for response, pid in zip(answered, used, strict=True):
            if response.status_code == 503:
                assert_unavailable(response)
                assert pid in pooled  # it drew a dead connection
            else:
                assert pid not in pooled  # served on a fresh one


class TestStatementTimeout:
    async def test_a_statement_past_the_timeout_is_503_and_its_transaction_rolled_back(
        self, committed_org: CommittedOrg
    ) -> None:
        """A user's role changed while another transaction holds the user's row FOR UPDATE,
        past DATABASE__STATEMENT_TIMEOUT_MS: the answer is a 503 and nothing is stored; once the
        row is free, the same request runs."""
        timeout_ms = 1500
        member = f"{USERS}/{committed_org.member.user.id}"
        headers = committed_org.admin.headers
        role = text("SELECT role::text FROM users WHERE id = :id")
        async with running(database(statement_timeout_ms=timeout_ms)) as (_, client):
            assert (await client.get(USERS, headers=headers)).status_code == 200  # authenticated
            async with asyncio.timeout(BOUND_SECONDS), Holder(committed_org.owner) as holder:
                await holder.execute(
                    "SELECT FROM users WHERE id = :id FOR UPDATE", id=committed_org.member.user.id
                )
                started = time.monotonic()
                request = asyncio.create_task(
                    client.patch(member, json={"role": "viewer"}, headers=headers)
                )
                await blocked_by(holder, 1)
                timed_out = await request
                took = time.monotonic() - started
                async with committed_org.owner.connect() as connection:
                    before = await connection.scalar(role, {"id": committed_org.member.user.id})
            retried = await client.patch(member, json={"role": "viewer"}, headers=headers)

        assert_unavailable(timed_out)
        assert timeout_ms / 1000 <= took < timeout_ms / 1000 + 5
        assert before == "member"  # the timed-out change was rolled back
        assert retried.status_code == 200, retried.text

    async def test_a_keyed_write_past_the_timeout_stores_neither_its_claim_nor_its_row(
        self, committed_org: CommittedOrg
    ) -> None:
        """A user added with an Idempotency-Key: the key's claim is written, then the user's
        INSERT waits on the tenant's email index, where another transaction holds an uncommitted
        user with the same email, past DATABASE__STATEMENT_TIMEOUT_MS. The answer is a 503;
        neither the claim nor the user is stored; once the other transaction is gone, the retry
        with the same key runs."""
        timeout_ms = 1500
        email = "keyed@race.example.com"
        headers = {**committed_org.admin.headers, "Idempotency-Key": "slow-write"}
        body = {"email": email, "password": "a long enough password", "full_name": "S"}
        body["role"] = "member"
        count = text(
            "SELECT (SELECT count(*) FROM users WHERE tenant_id = :tenant AND email = :email),"
            " (SELECT count(*) FROM idempotency_keys WHERE tenant_id = :tenant)"
        )
        where = {"tenant": committed_org.tenant.id, "email": email}
        async with running(database(statement_timeout_ms=timeout_ms)) as (_, client):
            async with asyncio.timeout(BOUND_SECONDS), Holder(committed_org.owner) as holder:
                await holder.execute(
                    "INSERT INTO users (id, tenant_id, email, password_hash, full_name, role)"
                    " VALUES (gen_random_uuid(), :tenant, :email, 'not-a-hash', 'H', 'member')",
                    **where,
                )
                started = time.monotonic()
                request = asyncio.create_task(client.post(USERS, json=body, headers=headers))
                [writer] = await blocked_by(holder, 1)
                wrote = await holder.watcher.scalar(
                    text("SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": writer},
                )
                timed_out = await request
                took = time.monotonic() - started
            # The holder's transaction ended without a commit: its user never existed.
            retried = await client.post(USERS, json=body, headers=headers)
        async with committed_org.owner.connect() as connection:
            stored = (await connection.execute(count, where)).one()

        assert wrote  # the request's transaction had written (the key's claim) when it waited
        assert_unavailable(timed_out)
        assert timeout_ms / 1000 <= took < timeout_ms / 1000 + 5
        assert retried.status_code == 201, retried.text  # the claim was rolled back: it runs
        assert tuple(stored) == (1, 1)  # the retry's user and claim, nothing of the first try


class TestNoConnection:
    async def test_an_exhausted_pool_answers_503_within_its_timeout(
        self, committed_org: CommittedOrg
    ) -> None:
        """Every pooled connection is held by someone else: the request waits
        DATABASE__POOL_TIMEOUT_SECONDS for one, then answers 503 instead of queueing forever."""
        pool_timeout = 0.5
        headers = committed_org.admin.headers
        settings = database(pool_size=2, pool_timeout_seconds=pool_timeout)
        async with running(settings) as (app, client):
            engine: AsyncEngine = app.state.resources.engine
            async with engine.connect(), engine.connect():  # the whole pool, checked out
                started = time.monotonic()
                refused = await client.get(USERS, headers=headers)
                waited = time.monotonic() - started
            served = await client.get(USERS, headers=headers)

        assert_unavailable(refused)
        assert pool_timeout <= waited < pool_timeout + 2
        assert served.status_code == 200

    async def test_a_server_refusing_connections_is_503_until_it_accepts_again(
        self, committed_org: CommittedOrg, refused_role: str
    ) -> None:
        """PostgreSQL refuses the app's new connections (`too many connections for role`, as
        when max_connections is reached): 503 at once. Once it accepts them again, the same app
        serves, without a restart."""
        url = make_url(TEST_DATABASE_URL).set(username=refused_role, password=refused_role)
        headers = committed_org.admin.headers
        async with running(database(url=url.render_as_string(hide_password=False))) as (_, client):
            async with asyncio.timeout(BOUND_SECONDS):
                refused = await client.get(USERS, headers=headers)
                async with committed_org.owner.begin() as connection:
                    await connection.execute(
                        text(f'ALTER ROLE "{refused_role}" CONNECTION LIMIT -1')
                    )
                served = await client.get(USERS, headers=headers)

        assert_unavailable(refused)
        assert served.status_code == 200

    async def test_an_unreachable_server_is_503(self, committed_org: CommittedOrg) -> None:
        """Nothing listens where DATABASE__URL points (PostgreSQL down, a wrong host): the
        refused connection is a 503 too, not a 500."""
        closed = make_url(TEST_DATABASE_URL).set(port=unused_port())
        headers = committed_org.admin.headers
        async with running(database(url=closed.render_as_string(hide_password=False))) as (
            _,
            client,
        ):
            async with asyncio.timeout(BOUND_SECONDS):
                refused = await client.get(USERS, headers=headers)

        assert_unavailable(refused)


@pytest.fixture
async def refused_role(committed_org: CommittedOrg) -> AsyncIterator[str]:
    """A login role of this test alone (the app's privileges, through `dependable_app`) that
    PostgreSQL lets open no connection (CONNECTION LIMIT 0): the server's global
    max_connections, shared by every test run on it, is never touched."""
    role = f"dependable_fault_{uuid.uuid4().hex[:12]}"
    async with committed_org.owner.begin() as connection:
        await connection.execute(
            text(
                f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{role}' CONNECTION LIMIT 0 "
                "IN ROLE dependable_app"
            )
        )
    yield role
    async with committed_org.owner.begin() as connection:
        await connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"),
            {"role": role},
        )
        await connection.execute(text(f'DROP ROLE "{role}"'))
