"""Login, refresh rotation and logout against real PostgreSQL and Redis."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.models import RefreshToken
from app.auth.service import DENYLIST_SINCE
from app.core.config import AuthSettings, RateLimitRule, RateLimitSettings, Settings
from app.core.db import SessionFactory
from app.core.resources import Resources
from app.core.security import Argon2PasswordHasher, hash_refresh_token, new_refresh_token
from app.core.tenancy import bind_tenant
from app.identity.models import Tenant, User
from tests.fixtures.app import use_redis, use_resources
from tests.fixtures.auth import PASSWORD, Actor, Org, bearer, mint_token
from tests.fixtures.database import FailingCommitSession, savepoint_factory
from tests.fixtures.factories import create_tenant, create_user
from tests.fixtures.paths import LOGOUT, ME, REFRESH, TOKEN
from tests.fixtures.problems import assert_problem
from tests.fixtures.wire import on_the_wire


async def login(client: AsyncClient, org: Org, email: str, password: str = PASSWORD) -> Response:
    return await client.post(
        TOKEN,
        data={"username": email, "password": password},
        headers={"X-Tenant": org.tenant.slug},
    )


class TestLogin:
    async def test_issues_a_token_pair_that_authenticates(
        self, client: AsyncClient, acme: Org
    ) -> None:
        response = await login(client, acme, acme.member.user.email)

        assert response.status_code == 200, response.text
        pair = response.json()
        assert pair["token_type"] == "bearer"
        assert pair["expires_in"] == 900
        assert pair["refresh_token"]
        me = await client.get(ME, headers=bearer(pair["access_token"]))
        assert me.json()["email"] == acme.member.user.email

    async def test_email_is_case_insensitive(self, client: AsyncClient, acme: Org) -> None:
        response = await login(client, acme, acme.member.user.email.upper())
        assert response.status_code == 200

    async def test_bad_credentials_share_one_answer(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, password_hash: str
    ) -> None:
        inactive = await create_user(
            session_factory,
            acme.tenant,
            email="gone@acme.example.com",
            password_hash=password_hash,
            is_active=False,
        )
        answers = [
            await login(client, acme, acme.member.user.email, "wrong password!!"),
            await login(client, acme, "nobody@acme.example.com"),
            await login(client, acme, inactive.email),
        ]

        bodies = [assert_problem(answer, 401) for answer in answers]
        assert {(b["type"], b["title"], b["detail"]) for b in bodies} == {
            (bodies[0]["type"], "Invalid credentials", "The email or password is incorrect.")
        }
        assert all(a.headers["www-authenticate"] == "Bearer" for a in answers)

    async def test_user_of_another_tenant_cannot_log_in_here(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        assert_problem(await login(client, globex, acme.member.user.email), 401)

    async def test_tenant_must_be_named(self, client: AsyncClient, acme: Org) -> None:
        response = await client.post(
            TOKEN, data={"username": acme.member.user.email, "password": PASSWORD}
        )
        assert assert_problem(response, 422)["type"].endswith("tenant-required")

    async def test_unknown_tenant_is_404(self, client: AsyncClient, acme: Org) -> None:
        response = await client.post(
            TOKEN,
            data={"username": acme.member.user.email, "password": PASSWORD},
            headers={"X-Tenant": "no-such-tenant"},
        )
        assert_problem(response, 404)

    async def test_stale_argon2_parameters_are_rehashed_on_login(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, settings: Settings
    ) -> None:
        weaker = AuthSettings(argon2_time_cost=1, argon2_memory_cost_kib=512, argon2_parallelism=1)
        old_hash = await Argon2PasswordHasher(weaker).hash(PASSWORD)
        user = await create_user(
            session_factory, acme.tenant, email="old@acme.example.com", password_hash=old_hash
        )

        assert (await login(client, acme, user.email)).status_code == 200

        async with session_factory() as session:
            await bind_tenant(session, acme.tenant.id)
            stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
        assert stored is not None
        assert stored != old_hash
        assert "m=1024" in stored  # the test settings' memory cost

    async def test_throttled_well_before_forty_attempts(
        self, app: FastAPI, client: AsyncClient, acme: Org, settings: Settings
    ) -> None:
        strict = settings.model_copy(
            update={
                "rate_limit": RateLimitSettings(
                    login_per_account=RateLimitRule(limit=5, period_seconds=60)
                )
            }
        )
        use_resources(app, settings=strict)

        statuses = []
        for _ in range(7):
            response = await login(client, acme, acme.member.user.email, "wrong password!!")
            statuses.append(response.status_code)

        assert statuses == [401] * 5 + [429] * 2
        body = assert_problem(response, 429)
        assert body["type"].endswith("rate-limited")
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert response.headers["ratelimit-remaining"] == "0"

    async def test_default_limits_stop_a_guessing_run_early(
        self, client: AsyncClient, acme: Org
    ) -> None:
        for attempt in range(1, 40):
            response = await login(client, acme, acme.member.user.email, f"guess number {attempt}")
            if response.status_code == 429:
                break
        assert response.status_code == 429
        assert attempt <= 11
        assert "retry-after" in response.headers


class TestRefresh:
    async def test_rotates_and_spends_the_old_token(self, client: AsyncClient, acme: Org) -> None:
        first = (await login(client, acme, acme.member.user.email)).json()

        second = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})

        assert second.status_code == 200, second.text
        pair = second.json()
        assert pair["refresh_token"] != first["refresh_token"]
        me = await client.get(ME, headers=bearer(pair["access_token"]))
        assert me.status_code == 200

    async def test_reuse_revokes_the_whole_family(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        first = (await login(client, acme, acme.member.user.email)).json()
        second = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()

        replay = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
        assert "already used" in assert_problem(replay, 401)["detail"]

        # The 401 is an error, yet its revocation was committed (`KeepsWrites`): both tokens.
        revoked = await family_revocations(session_factory, acme, first["refresh_token"])
        assert revoked == [True, True]
        # The thief's replay killed the legitimate holder's newer token too, and its session.
        newer = await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
        assert_problem(newer, 401)

    async def test_reuse_whose_revocation_fails_to_commit_is_a_500(
        self, app: FastAPI, client: AsyncClient, acme: Org, connection: AsyncConnection
    ) -> None:
        first = (await login(client, acme, acme.member.user.email)).json()
        rotated = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200
        failing = use_resources(
            app, session_factory=savepoint_factory(connection, FailingCommitSession)
        ).session_factory

        replay = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})

        # Not the 401 that says the session was revoked: it was not.
        assert_problem(replay, 500)
        assert await family_revocations(failing, acme, first["refresh_token"]) == [False, False]

    async def test_unknown_token_is_401(self, client: AsyncClient) -> None:
        response = await client.post(REFRESH, json={"refresh_token": "x" * 43})
        assert_problem(response, 401)

    async def test_malformed_body_is_422(self, client: AsyncClient) -> None:
        assert_problem(await client.post(REFRESH, json={"refresh_token": 7}), 422)
        assert_problem(await client.post(REFRESH, json={"token": "x" * 43}), 422)


async def family_revocations(factory: SessionFactory, org: Org, refresh_token: str) -> list[bool]:
    """Whether each refresh token of `refresh_token`'s family is revoked, in PostgreSQL."""
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        family = select(RefreshToken.family_id).where(
            RefreshToken.token_hash == hash_refresh_token(refresh_token)
        )
        revoked = await session.scalars(
            select(RefreshToken.revoked_at.is_not(None))
            .where(RefreshToken.family_id == family.scalar_subquery())
            .order_by(RefreshToken.expires_at)
        )
        return list(revoked)


class TestLogout:
    async def test_denies_the_access_token_and_the_refresh_family(
        self, client: AsyncClient, acme: Org
    ) -> None:
        pair = (await login(client, acme, acme.member.user.email)).json()
        member = bearer(pair["access_token"])

        response = await client.post(LOGOUT, headers=member)

        assert response.status_code == 204
        assert_problem(await client.get(ME, headers=member), 401)
        assert_problem(
            await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}), 401
        )

    async def test_logged_out_token_stays_rejected_when_redis_is_down(
        self, app: FastAPI, client: AsyncClient, acme: Org
    ) -> None:
        pair = (await login(client, acme, acme.member.user.email)).json()
        member = bearer(pair["access_token"])
        assert (await client.post(LOGOUT, headers=member)).status_code == 204

        unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.25)
        use_redis(app, unreachable)
        try:
            # The denylist cannot answer: the check falls back to PostgreSQL's revoked family.
            assert_problem(await client.get(ME, headers=member), 401)
            # A token that was not logged out still works: the service keeps answering.
            assert (await client.get(ME, headers=acme.viewer.headers)).status_code == 200
        finally:
            await unreachable.aclose()

    async def test_a_logout_survives_a_redis_that_restarted_empty(
        self, client: AsyncClient, acme: Org, redis: Redis
    ) -> None:
        """Redis without persistence restarts empty: the denylist forgot the logout. The
        missing completeness mark says so, and tokens issued before the mark that replaces it
        are checked in PostgreSQL, where the session's revocation is kept."""
        pair = (await login(client, acme, acme.member.user.email)).json()
        member = bearer(pair["access_token"])
        assert (await client.post(LOGOUT, headers=member)).status_code == 204

        await redis.flushdb()  # what a restart without persistence leaves

        assert_problem(await client.get(ME, headers=member), 401)
        assert_problem(await client.get(ME, headers=member), 401)  # the mark is now set
        assert float(await redis.get(DENYLIST_SINCE) or "nan") > 0
        # Tokens of live sessions keep working (their families are not revoked).
        assert (await client.get(ME, headers=acme.viewer.headers)).status_code == 200

    async def test_tokens_issued_after_the_mark_trust_the_denylist(
        self,
        client: AsyncClient,
        acme: Org,
        redis: Redis,
        connection: AsyncConnection,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await redis.set(DENYLIST_SINCE, str(time.time() - 5))
        pair = (await login(client, acme, acme.member.user.email)).json()
        member = bearer(pair["access_token"])
        assert (await client.get(ME, headers=member)).status_code == 200  # fills the caches

        with on_the_wire(connection, monkeypatch) as wire:
            assert (await client.get(ME, headers=member)).status_code == 200
        assert wire.statements == []  # no family check in PostgreSQL

    async def test_needs_a_token(self, client: AsyncClient) -> None:
        assert_problem(await client.post(LOGOUT), 401)


def milliseconds(moment: datetime) -> float:
    return moment.timestamp() * 1000


class TestLogoutDenialLifetime:
    """What the denylist entries must outlive: `decode` accepts a token until `exp + leeway`
    in whole seconds, i.e. up to one second short of `exp + leeway + 1`. The entries' absolute
    expiry times are read from Redis (`PEXPIRETIME`), so nothing waits for them to run out."""

    async def test_item1b_session_denial_outlives_every_access_token_of_the_session(
        self, app: FastAPI, client: AsyncClient, acme: Org, redis: Redis, settings: Settings
    ) -> None:
        pair = (await login(client, acme, acme.member.user.email)).json()
        codec = app.state.resources.jwt
        newest = codec.decode(pair["access_token"])
        # An older access token of the same session, a minute from its expiry, logs out.
        older = codec.issue(
            user_id=newest.user_id,
            tenant_id=newest.tenant_id,
            role=newest.role,
            family_id=newest.family_id,
            now=datetime.now(UTC) - timedelta(seconds=settings.auth.access_ttl_seconds - 60),
        )

        assert (await client.post(LOGOUT, headers=bearer(older.token))).status_code == 204

        # The newest token of the session must stay denied as long as decode would accept it,
        # not only as long as the token that logged out.
        accepted_until = newest.expires_at + timedelta(seconds=settings.auth.leeway_seconds + 1)
        denied_until = await redis.pexpiretime(f"denylist:family:{newest.family_id}")
        assert denied_until >= milliseconds(accepted_until)
        assert_problem(await client.get(ME, headers=bearer(pair["access_token"])), 401)

    async def test_item1c_logged_out_token_stays_denied_through_the_leeway(
        self, app: FastAPI, client: AsyncClient, acme: Org, redis: Redis, settings: Settings
    ) -> None:
        leeway = settings.auth.leeway_seconds
        codec = app.state.resources.jwt
        pair = (await login(client, acme, acme.member.user.email)).json()
        claims = codec.decode(pair["access_token"])

        assert (await client.post(LOGOUT, headers=bearer(pair["access_token"]))).status_code == 204

        accepted_until = claims.expires_at + timedelta(seconds=leeway + 1)
        assert await redis.pexpiretime(f"denylist:jti:{claims.token_id}") >= milliseconds(
            accepted_until
        )
        # Why `exp` is not enough: a token whose `exp` passed (leeway - 1) s ago still decodes.
        assert leeway >= 1
        expired = codec.issue(
            user_id=claims.user_id,
            tenant_id=claims.tenant_id,
            role=claims.role,
            family_id=claims.family_id,
            now=datetime.now(UTC)
            - timedelta(seconds=settings.auth.access_ttl_seconds + leeway - 1),
        )
        assert expired.claims.expires_at < datetime.now(UTC)
        assert codec.decode(expired.token).token_id == expired.claims.token_id


async def start_session(
    app: FastAPI, factory: SessionFactory, user: User, tenant: Tenant
) -> tuple[Actor, str]:
    """A session as a login would have started it: an access token and a refresh token of one
    family (arranged directly, since login refuses a deactivated tenant)."""
    family_id, refresh_token = uuid.uuid4(), new_refresh_token()
    async with factory() as session:
        await bind_tenant(session, tenant.id)
        session.add(
            RefreshToken(
                tenant_id=tenant.id,
                user_id=user.id,
                family_id=family_id,
                token_hash=hash_refresh_token(refresh_token),
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
        await session.commit()
    return mint_token(app, user, tenant, family_id=family_id), refresh_token


class TestDeactivatedTenant:
    """Decision: refresh refuses with 401 (the refresh token cannot be used, like any unusable
    one); logout still revokes (204), so a deactivated tenant's sessions can be ended."""

    async def test_item10_refresh_for_a_deactivated_tenant_is_refused(
        self, app: FastAPI, client: AsyncClient, session_factory: SessionFactory, password_hash: str
    ) -> None:
        tenant = await create_tenant(session_factory, "initech", is_active=False)
        user = await create_user(session_factory, tenant, password_hash=password_hash)
        actor, refresh_token = await start_session(app, session_factory, user, tenant)

        body = assert_problem(
            await client.post(REFRESH, json={"refresh_token": refresh_token}), 401
        )

        assert body["type"].endswith("invalid-token")
        # Every other route already refused it: the tenant is not found.
        assert_problem(await client.get(ME, headers=actor.headers), 404)

    async def test_item10_logout_for_a_deactivated_tenant_revokes_the_session(
        self, app: FastAPI, client: AsyncClient, session_factory: SessionFactory, password_hash: str
    ) -> None:
        tenant = await create_tenant(session_factory, "initech", is_active=False)
        user = await create_user(session_factory, tenant, password_hash=password_hash)
        actor, _ = await start_session(app, session_factory, user, tenant)

        assert (await client.post(LOGOUT, headers=actor.headers)).status_code == 204

        async with session_factory() as session:
            await bind_tenant(session, tenant.id)
            revoked = await session.scalar(
                select(RefreshToken.revoked_at).where(RefreshToken.family_id == actor.family_id)
            )
        assert revoked is not None
        # Denied now (401) rather than refused for its tenant (404): the token itself is dead.
        assert_problem(await client.get(ME, headers=actor.headers), 401)


class TestTimingSafety:
    async def test_unknown_email_is_still_verified_against_a_hash(
        self, app: FastAPI, app_instance: FastAPI, client: AsyncClient, acme: Org
    ) -> None:
        """No timed assertion: the proof is that the hasher does the same work either way."""
        resources: Resources = app_instance.state.resources
        real = resources.password_hasher
        calls: list[tuple[str, str | None]] = []

        class Recording:
            async def hash(self, password: str) -> str:
                return await real.hash(password)

            async def verify_and_update(
                self, password: str, password_hash: str | None
            ) -> tuple[bool, str | None]:
                calls.append((password, password_hash))
                return await real.verify_and_update(password, password_hash)

        use_resources(app, password_hasher=Recording())

        await login(client, acme, "nobody@acme.example.com", "some password!")
        await login(client, acme, acme.member.user.email, "some password!")

        assert [(password, stored is None) for password, stored in calls] == [
            ("some password!", True),
            ("some password!", False),
        ]
