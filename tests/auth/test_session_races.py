"""Logout and refresh of one session, racing on two real connections (issue 10, item 1 (a)).

Each race is held at its critical point, never timed: one side runs through `AuthService` on a
session of its own and stops before its commit, still holding its row locks; the other side
runs (over HTTP or through the service) until PostgreSQL reports it blocked on those locks
(`pg_locks` and `pg_blocking_pids`); then the first side commits and the second finishes.

The data is really committed, so these tests use the app without the per-test savepoint
connection (`committing_client`) and remove their tenant through the owner connection.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy import Executable, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.auth.service import AuthService, Revocations
from app.core.config import Settings
from app.core.resources import Resources
from app.core.security import AccessClaims
from app.identity.models import Role
from app.identity.wall import TenantWall
from tests.fixtures.auth import PASSWORD, bearer
from tests.fixtures.paths import LOGOUT, ME, REFRESH, TOKEN
from tests.fixtures.problems import assert_problem


@dataclass(frozen=True)
class Account:
    slug: str
    email: str


@pytest.fixture
async def owner_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(settings.database.owner_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def account(
    owner_engine: AsyncEngine, password_hash: str, redis: Redis
) -> AsyncIterator[Account]:
    """A tenant with one member, committed (every connection sees it), removed afterwards with
    everything beneath it (`ON DELETE CASCADE`)."""
    tenant_id = uuid.uuid4()
    account = Account(slug=f"race-{tenant_id.hex[:12]}", email="member@race.example.com")
    async with owner_engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO tenants (id, slug, name) VALUES (:id, :slug, 'Race')"),
            {"id": tenant_id, "slug": account.slug},
        )
        await connection.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, password_hash, full_name, role)"
                " VALUES (:id, :tenant, :email, :hash, 'Member', :role)"
            ),
            {
                "id": uuid.uuid4(),
                "tenant": tenant_id,
                "email": account.email,
                "hash": password_hash,
                "role": Role.MEMBER.value,
            },
        )
    yield account
    async with owner_engine.begin() as connection:
        await connection.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant_id})


@pytest.fixture
def resources(app_instance: FastAPI) -> Resources:
    resources: Resources = app_instance.state.resources
    return resources


def auth_service(session: AsyncSession, resources: Resources, settings: Settings) -> AuthService:
    return AuthService(
        TenantWall(session),
        resources.password_hasher,
        resources.jwt,
        Revocations(resources.redis, resources.redis_circuit),
        refresh_ttl_seconds=settings.auth.refresh_ttl_seconds,
    )


async def backend_pid(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)


async def wait_until_blocked_by(owner_engine: AsyncEngine, holder: int) -> None:
    """Poll the lock manager until some backend waits for a lock that `holder` holds. The poll
    interval is not a synchronisation: the test proceeds only on what PostgreSQL reports."""
    query = text(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND :holder = ANY(pg_blocking_pids(pid))"
    )
    async with asyncio.timeout(10):
        while True:
            async with owner_engine.connect() as connection:
                if await connection.scalar(query, {"holder": holder}):
                    return
            await asyncio.sleep(0.01)


async def login(client: AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.post(
        TOKEN,
        data={"username": account.email, "password": PASSWORD},
        headers={"X-Tenant": account.slug},
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


class TestItem1aLogoutRacingRefresh:
    async def test_item1a_logout_racing_refresh_revokes_the_new_refresh_token(
        self,
        committing_client: AsyncClient,
        account: Account,
        resources: Resources,
        settings: Settings,
        owner_engine: AsyncEngine,
    ) -> None:
        """Refresh first: it holds the presented token's lock and has inserted the next token
        when the logout starts; the logout waits, and must still revoke the token minted."""
        client = committing_client
        first = await login(client, account)

        async with resources.session_factory() as refreshing:
            minted = await auth_service(refreshing, resources, settings).refresh(
                first["refresh_token"]
            )
            logout = asyncio.create_task(client.post(LOGOUT, headers=bearer(first["access_token"])))
            await wait_until_blocked_by(owner_engine, await backend_pid(refreshing))
            await refreshing.commit()
            assert (await logout).status_code == 204

        assert_problem(
            await client.post(REFRESH, json={"refresh_token": minted.refresh_token}), 401
        )
        assert_problem(await client.get(ME, headers=bearer(minted.access_token)), 401)

    async def test_item1a_refresh_racing_logout_finds_the_token_revoked(
        self,
        committing_client: AsyncClient,
        account: Account,
        resources: Resources,
        settings: Settings,
        owner_engine: AsyncEngine,
    ) -> None:
        """Logout first: it holds the family's revoked rows when the refresh starts; the refresh
        waits on the presented token's lock, then reads it revoked: 401, nothing minted."""
        client = committing_client
        first = await login(client, account)
        claims = resources.jwt.decode(first["access_token"])

        async with resources.session_factory() as logging_out:
            await auth_service(logging_out, resources, settings).logout(claims)
            refresh = asyncio.create_task(
                client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
            )
            await wait_until_blocked_by(owner_engine, await backend_pid(logging_out))
            await logging_out.commit()
            assert_problem(await refresh, 401)

        assert await family_tokens(owner_engine, claims) == {"live": 0, "revoked": 1}

    async def test_item1a_logout_revokes_a_token_minted_by_a_chained_refresh(
        self,
        committing_client: AsyncClient,
        account: Account,
        resources: Resources,
        settings: Settings,
        owner_engine: AsyncEngine,
    ) -> None:
        """A thief refreshes twice in a row while the victim's logout runs: the second refresh
        locks the token the first minted before the logout's next statement reaches it. The
        logout must keep going until it has revoked the newest token too (one UPDATE, or one
        SELECT ... FOR UPDATE followed by one UPDATE, would stop one token short)."""
        client = committing_client
        first = await login(client, account)
        claims = resources.jwt.decode(first["access_token"])
        paused, resume = asyncio.Event(), asyncio.Event()

        async def before_second_statement(count: int) -> None:
            if count == 2:
                paused.set()
                await resume.wait()

        async with (
            resources.session_factory() as refresh_one,
            resources.session_factory() as refresh_two,
            PausingSession(bind=resources.engine, hook=before_second_statement) as logging_out,
        ):
            second = await auth_service(refresh_one, resources, settings).refresh(
                first["refresh_token"]
            )
            logout = asyncio.create_task(
                auth_service(logging_out, resources, settings).logout(claims)
            )
            await wait_until_blocked_by(owner_engine, await backend_pid(refresh_one))
            await refresh_one.commit()
            # The logout's first statement is through; before its second one the thief spends
            # the token just minted. (A logout that stops after one statement is done here.)
            pausing = asyncio.create_task(paused.wait())
            await asyncio.wait({pausing, logout}, return_when=asyncio.FIRST_COMPLETED)
            pausing.cancel()
            third = await auth_service(refresh_two, resources, settings).refresh(
                second.refresh_token
            )
            resume.set()
            if not logout.done():
                await wait_until_blocked_by(owner_engine, await backend_pid(refresh_two))
            await refresh_two.commit()
            await logout
            await logging_out.commit()

        assert_problem(await client.post(REFRESH, json={"refresh_token": third.refresh_token}), 401)
        assert await family_tokens(owner_engine, claims) == {"live": 0, "revoked": 3}


class TestAlsoTwoTabsRefreshingOneToken:
    async def test_also_two_tabs_refreshing_one_token_end_the_session(
        self,
        committing_client: AsyncClient,
        account: Account,
        resources: Resources,
        settings: Settings,
        owner_engine: AsyncEngine,
    ) -> None:
        """The chosen trade-off (docs/security.md): no reuse interval. A second refresh with a
        token that was just spent, even from the same user's other tab, is a reuse: 401, and
        the whole session is revoked, including the pair the first tab received."""
        client = committing_client
        first = await login(client, account)

        async with resources.session_factory() as first_tab:
            minted = await auth_service(first_tab, resources, settings).refresh(
                first["refresh_token"]
            )
            second_tab = asyncio.create_task(
                client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
            )
            await wait_until_blocked_by(owner_engine, await backend_pid(first_tab))
            await first_tab.commit()
            body = assert_problem(await second_tab, 401)

        assert "already used" in body["detail"]
        assert_problem(
            await client.post(REFRESH, json={"refresh_token": minted.refresh_token}), 401
        )
        assert_problem(await client.get(ME, headers=bearer(minted.access_token)), 401)


class PausingSession(AsyncSession):
    """A session that calls `hook(n)` before its n-th statement on `refresh_tokens`, to hold a
    logout between its first statement on the family and the next."""

    def __init__(self, *, hook: Callable[[int], Awaitable[None]], **kwargs: Any) -> None:
        super().__init__(expire_on_commit=False, autoflush=False, **kwargs)
        self.hook = hook
        self.statements = 0

    async def execute(self, statement: Executable, *args: Any, **kwargs: Any) -> Any:
        if "refresh_tokens" in str(statement):
            self.statements += 1
            await self.hook(self.statements)
        return await super().execute(statement, *args, **kwargs)


async def family_tokens(owner_engine: AsyncEngine, claims: AccessClaims) -> dict[str, int]:
    async with owner_engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT count(*) FILTER (WHERE revoked_at IS NULL) AS live,"
                    " count(*) FILTER (WHERE revoked_at IS NOT NULL) AS revoked"
                    " FROM refresh_tokens WHERE family_id = :family"
                ),
                {"family": claims.family_id},
            )
        ).one()
    return {"live": row.live, "revoked": row.revoked}
