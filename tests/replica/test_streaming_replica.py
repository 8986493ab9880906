"""The read replica against a real one: a primary and a streaming hot standby the fixture makes
(`tests/fixtures/replica.py`: initdb, `pg_basebackup -R`, another port), the app configured with
both (DATABASE__URL the primary, DATABASE__REPLICA_URL the standby). The read is the users' list
(`GET /api/v1/users`, on `UserReaderDep`: app/user/dependencies.py), as an admin or owner.

Which server served a read is shown twice over: by what it returned while the replica's replay
is held (`pg_wal_replay_pause()`: a row committed on the primary is then missing on the replica
only, so a list without it was read there), and by `db_read_sessions_total`, the metric the app
counts each read session on, with the server and the reason. Holding replay is also how lag is
made, deterministically: no test waits for time to pass, only for a condition.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.config import RedisSettings
from app.core.metrics import AppMetrics
from app.core.redis import create_redis_client, create_redis_pool
from app.core.replica import ReadReplica, read_replica, writer_key
from app.core.resources import Resources
from app.identity.models import Role, Tenant, User
from app.main import create_app
from tests.fixtures.auth import Actor, mint_token
from tests.fixtures.paths import USERS
from tests.fixtures.ports import unused_port
from tests.fixtures.replica import StreamingReplica

Served = tuple[str, str]  # (server, reason), as db_read_sessions_total counts them
# The user the writer adds through the API.
MINE = {
    "email": "mine@acme.example.com",
    "password": "a long enough password",
    "full_name": "Mine",
    "role": "member",
}


@pytest.fixture(scope="module")
async def replica_app(streaming_replica: StreamingReplica) -> AsyncIterator[FastAPI]:
    app = create_app(streaming_replica.settings())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(replica_app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=replica_app)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def resources(replica_app: FastAPI) -> Resources:
    return replica_app.state.resources  # type: ignore[no-any-return]  # set by the lifespan


@pytest.fixture
def replica(resources: Resources) -> ReadReplica:
    assert resources.replica is not None
    return resources.replica


@dataclass
class Team:
    tenant: Tenant
    writer: Actor  # an admin: adds users
    reader: Actor  # an owner who writes nothing in these tests
    emails: set[str]  # of the users it starts with (the two above)


async def make_team(pair: StreamingReplica, app: FastAPI, name: str) -> Team:
    """A committed tenant with an owner and an admin, written on the primary (as its owner) and
    replayed on the replica before the test starts."""
    tenant = Tenant(id=uuid.uuid4(), slug=f"{name}-{uuid.uuid4().hex[:10]}", name=name)
    users = {
        role: User(
            id=uuid.uuid4(), tenant_id=tenant.id, role=role, email=f"{role}@{name}.example.com"
        )
        for role in (Role.ADMIN, Role.OWNER)
    }
    await pair.write_on_primary(
        "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)", tenant.id, tenant.slug, name
    )
    for user in users.values():
        await add_user(pair, tenant, user.email, role=user.role, id_=user.id)
    await pair.wait_for_replica()
    return Team(
        tenant,
        writer=mint_token(app, users[Role.ADMIN], tenant),
        reader=mint_token(app, users[Role.OWNER], tenant),
        emails={user.email for user in users.values()},
    )


async def add_user(
    pair: StreamingReplica,
    tenant: Tenant,
    email: str,
    *,
    role: Role = Role.VIEWER,
    id_: uuid.UUID | None = None,
) -> None:
    await pair.write_on_primary(
        "INSERT INTO users (id, tenant_id, email, password_hash, full_name, role) "
        "VALUES ($1, $2, $3, 'not-a-hash', 'Reader', $4)",
        id_ or uuid.uuid4(),
        tenant.id,
        email,
        role.value,
    )


@pytest.fixture
async def acme(streaming_replica: StreamingReplica, replica_app: FastAPI) -> Team:
    return await make_team(streaming_replica, replica_app, "acme")


@pytest.fixture
async def globex(streaming_replica: StreamingReplica, replica_app: FastAPI) -> Team:
    return await make_team(streaming_replica, replica_app, "globex")


def read_counts(app: FastAPI) -> dict[Served, float]:
    resources: Resources = app.state.resources
    counts: dict[Served, float] = {}
    for metric in resources.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == "db_read_sessions_total":
                counts[(sample.labels["server"], sample.labels["reason"])] = sample.value
    return counts


async def list_users(app: FastAPI, client: AsyncClient, actor: Actor) -> tuple[Response, Served]:
    """GET /users as `actor`, and where its read session was served (the one counter that
    moved)."""
    before = read_counts(app)
    response = await client.get(USERS, headers=actor.headers)
    after = read_counts(app)
    moved = [key for key, value in after.items() if value != before.get(key, 0.0)]
    assert len(moved) == 1, moved
    return response, moved[0]


def emails(response: Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {user["email"] for user in response.json()}


async def test_reads_go_to_the_replica(
    streaming_replica: StreamingReplica, replica_app: FastAPI, client: AsyncClient, acme: Team
) -> None:
    await streaming_replica.pause_replay()
    try:
        await add_user(streaming_replica, acme.tenant, "only-on-the-primary@acme.example.com")
        response, served = await list_users(replica_app, client, acme.reader)
    finally:
        await streaming_replica.resume_replay()
    # Held replay, within the lag bound (60 s here): the replica's view, without the new row.
    assert served == ("replica", "replica")
    assert emails(response) == acme.emails

    await streaming_replica.wait_for_replica()
    response, served = await list_users(replica_app, client, acme.reader)
    assert served == ("replica", "replica")
    assert emails(response) == acme.emails | {"only-on-the-primary@acme.example.com"}


async def test_row_level_security_binds_the_replica_session(
    streaming_replica: StreamingReplica,
    resources: Resources,
    replica: ReadReplica,
    acme: Team,
    globex: Team,
) -> None:
    admin = await streaming_replica.admin(streaming_replica.replica_port)
    try:  # both tenants' rows are on the replica: the superuser sees them
        tenants = await admin.fetch("SELECT DISTINCT tenant_id FROM users")
    finally:
        await admin.close()
    assert {acme.tenant.id, globex.tenant.id} <= {row["tenant_id"] for row in tenants}

    reader = writer_key(acme.tenant.id, acme.reader.user.id)
    async with replica.session(acme.tenant.id, reader, resources.redis) as session:
        assert session is not None
        assert await session.scalar(text("SELECT pg_is_in_recovery()")) is True
        assert await session.scalar(text("SHOW transaction_read_only")) == "on"
        # No WHERE of ours: row-level security alone keeps globex's rows out.
        visible = set((await session.scalars(text("SELECT tenant_id FROM users"))).all())
        assert visible == {acme.tenant.id}
        asked_for_globex = text("SELECT count(*) FROM users WHERE tenant_id = :tenant")
        assert await session.scalar(asked_for_globex, {"tenant": globex.tenant.id}) == 0


async def test_the_replica_session_cannot_write(
    resources: Resources, replica: ReadReplica, acme: Team
) -> None:
    reader = writer_key(acme.tenant.id, acme.reader.user.id)
    async with replica.session(acme.tenant.id, reader, resources.redis) as session:
        assert session is not None
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await session.execute(
                text(
                    "INSERT INTO users (id, tenant_id, email, password_hash, full_name, role) "
                    "VALUES (:id, :tenant, 'no@acme.example.com', 'not-a-hash', 'No', 'viewer')"
                ),
                {"id": uuid.uuid4(), "tenant": acme.tenant.id},
            )


async def test_a_writer_reads_its_write_while_the_replica_is_behind(
    streaming_replica: StreamingReplica, replica_app: FastAPI, client: AsyncClient, acme: Team
) -> None:
    await streaming_replica.pause_replay()
    try:
        created = await client.post(USERS, json=MINE, headers=acme.writer.headers)
        assert created.status_code == 201, created.text
        mine, served_mine = await list_users(replica_app, client, acme.writer)
        theirs, served_theirs = await list_users(replica_app, client, acme.reader)
    finally:
        await streaming_replica.resume_replay()
    # The writer's read waited for no replica: the primary served it, with the write...
    assert served_mine == ("primary", "own_write")
    assert emails(mine) == acme.emails | {MINE["email"]}
    # ...while a reader who wrote nothing was served by the replica, which had not replayed it.
    assert served_theirs == ("replica", "replica")
    assert emails(theirs) == acme.emails

    await streaming_replica.wait_for_replica()  # replayed: the writer is back on the replica
    mine, served_mine = await list_users(replica_app, client, acme.writer)
    assert served_mine == ("replica", "replica")
    assert emails(mine) == acme.emails | {MINE["email"]}


async def test_a_replica_lagging_past_the_setting_sends_reads_to_the_primary(
    streaming_replica: StreamingReplica,
    replica_app: FastAPI,
    client: AsyncClient,
    replica: ReadReplica,
    acme: Team,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replica, "max_lag", 0.0)  # DATABASE__REPLICA_MAX_LAG_SECONDS=0
    # Caught up, the replica is within any bound.
    _, served = await list_users(replica_app, client, acme.reader)
    assert served == ("replica", "replica")

    await streaming_replica.pause_replay()
    try:
        await add_user(streaming_replica, acme.tenant, "not-replayed-yet@acme.example.com")
        # Received but not replayed: the replica lags by the age of its last replayed commit.
        await streaming_replica.wait_for_replica(replayed=False)
        response, served = await list_users(replica_app, client, acme.reader)
    finally:
        await streaming_replica.resume_replay()
    assert served == ("primary", "lag")
    assert emails(response) == acme.emails | {"not-replayed-yet@acme.example.com"}


async def test_a_stopped_replica_falls_back_to_the_primary_without_errors(
    streaming_replica: StreamingReplica, replica_app: FastAPI, client: AsyncClient, acme: Team
) -> None:
    _, served = await list_users(replica_app, client, acme.reader)
    assert served == ("replica", "replica")  # a pooled replica connection, about to die

    await streaming_replica.stop_replica()
    try:
        await add_user(streaming_replica, acme.tenant, "written-while-down@acme.example.com")
        outcomes = [await list_users(replica_app, client, acme.reader) for _ in range(3)]
    finally:
        await streaming_replica.start_replica()
    for response, served in outcomes:
        assert served == ("primary", "replica_down")
        assert emails(response) == acme.emails | {"written-while-down@acme.example.com"}

    # Restarted and caught up: reads go back to it (no circuit cooldown in these settings).
    await streaming_replica.wait_for_replica()
    response, served = await list_users(replica_app, client, acme.reader)
    assert served == ("replica", "replica")
    assert emails(response) == acme.emails | {"written-while-down@acme.example.com"}


async def test_without_redis_a_read_cannot_know_the_last_write_and_reads_on_the_primary(
    replica_app: FastAPI,
    client: AsyncClient,
    resources: Resources,
    acme: Team,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fail safe: where the reader's last write is unknown, the primary is never behind it.
    (Authentication, without Redis too, checks the token in PostgreSQL.)"""
    unreachable = create_redis_client(
        create_redis_pool(RedisSettings(url=f"redis://127.0.0.1:{unused_port()}/0"))
    )
    monkeypatch.setattr(replica_app.state, "resources", resources.using_redis(unreachable))
    try:
        response, served = await list_users(replica_app, client, acme.reader)
    finally:
        await unreachable.aclose()
    assert served == ("primary", "redis_down")
    assert emails(response) == acme.emails


async def test_a_replica_url_naming_a_primary_is_not_read_from(
    streaming_replica: StreamingReplica, resources: Resources, acme: Team
) -> None:
    """A server out of recovery (a promoted replica, or the primary by mistake) has stopped
    following the primary: reads stay on the primary, and it is logged."""
    settings = streaming_replica.settings(
        replica_url=streaming_replica.url(streaming_replica.primary_port)
    ).database
    metrics = AppMetrics()
    misconfigured = read_replica(settings, redis_circuit=resources.redis_circuit, metrics=metrics)
    assert misconfigured is not None
    reader = writer_key(acme.tenant.id, acme.reader.user.id)
    try:
        async with misconfigured.session(acme.tenant.id, reader, resources.redis) as session:
            assert session is None
    finally:
        await misconfigured.engine.dispose()
    labels = {"server": "primary", "reason": "not_a_replica"}
    assert metrics.registry.get_sample_value("db_read_sessions_total", labels) == 1
