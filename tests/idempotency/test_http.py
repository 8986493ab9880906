"""`Idempotency-Key` over HTTP (app/idempotency/dependencies.py), on the users' create: replayed,
not re-run; another body or path under the same key is 422; a duplicate of a request still
running is 409; without the header nothing changes.

Item 5 of issue 10: a write never runs twice, whatever fails after its commit. The key's row
commits with the write in PostgreSQL; Redis failing to store the response, the lease expiring,
Redis being flushed or down never lets a retry run it again. The races, on two real
transactions, are in `test_races.py`."""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Response
from httpx import ASGITransport, AsyncClient
from httpx import Response as ClientResponse
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import update
from starlette.types import Message, Receive, Scope, Send

from app.auth.dependencies import RequestContextDep
from app.core.db import SessionFactory
from app.core.resources import Resources
from app.core.tenancy import bind_tenant
from app.http.middleware import RequestContextMiddleware
from app.http.problems import install_problem_handlers
from app.idempotency.cache import StoredResponse
from app.idempotency.dependencies import get_idempotency_store, idempotency, install_idempotency
from app.idempotency.models import IdempotencyKey
from app.idempotency.service import Claim, IdempotencyStore
from app.identity.models import User
from app.user.dependencies import get_user_service
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Actor, Org
from tests.fixtures.paths import USERS
from tests.fixtures.problems import assert_problem
from tests.fixtures.rows import count

EMAIL = "keyed@acme.example.com"


def keyed(actor: Actor, key: str) -> dict[str, str]:
    return {**actor.headers, "Idempotency-Key": key}


@dataclass
class Api:
    """The app under test as acme's admin sees it, and what a test reads back."""

    app: FastAPI
    client: AsyncClient
    org: Org
    redis: Redis
    factory: SessionFactory

    def add_user(
        self,
        key: str | None,
        email: str = EMAIL,
        *,
        actor: Actor | None = None,
        client: AsyncClient | None = None,
    ) -> Awaitable[ClientResponse]:
        """POST /users as `actor` (the admin): a member with `email`, under `key` if any."""
        actor = actor or self.org.admin
        headers = actor.headers if key is None else keyed(actor, key)
        body = {"email": email, "password": "a long enough password", "full_name": "K"}
        return (client or self.client).post(USERS, json={**body, "role": "member"}, headers=headers)

    async def users(self, email: str = EMAIL) -> int:
        return await count(self.factory, self.org.tenant, User, User.email == email)

    async def keys(self) -> int:
        return await count(self.factory, self.org.tenant, IdempotencyKey)

    async def age_keys(self, seconds: int) -> None:
        """Move every key `seconds` into the past, as if that much time had passed."""
        async with self.factory() as session:
            await bind_tenant(session, self.org.tenant.id)
            older = IdempotencyKey.created_at - timedelta(seconds=seconds)
            await session.execute(update(IdempotencyKey).values(created_at=older))
            await session.commit()

    async def expire_redis_leases(self) -> None:
        """The pending markers' 60-second lease ends (without waiting 60 seconds)."""
        for key in await self.redis.keys("idempotency:*"):
            await self.redis.delete(key)


@pytest.fixture
def api(
    app: FastAPI, client: AsyncClient, acme: Org, redis: Redis, session_factory: SessionFactory
) -> Api:
    return Api(app, client, acme, redis, session_factory)


def assert_replayed(replay: ClientResponse, first: ClientResponse) -> None:
    assert (first.status_code, replay.status_code) == (201, 201)
    assert "idempotent-replayed" not in first.headers
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()


class TestReplay:
    async def test_a_replay_returns_the_stored_response_and_creates_nothing(self, api: Api) -> None:
        first = await api.add_user("add-once")
        again = await api.add_user("add-once")

        assert_replayed(again, first)
        assert again.headers["content-type"] == first.headers["content-type"]
        assert again.headers["x-request-id"] != first.headers["x-request-id"]
        assert await api.users() == 1

    async def test_a_retry_the_moment_the_response_is_complete_is_replayed(self, api: Api) -> None:
        """A client that has the whole response may retry at once, on another replica behind a
        balancer (tests/scale): the response must be stored by then, or the retry is a 409 for
        a request that, as far as the client can tell, has finished. The retry is sent from
        inside the first response's last `send`, the moment its last byte would leave."""
        retries: list[ClientResponse] = []

        async def retry_at_the_last_byte(scope: Scope, receive: Receive, send: Send) -> None:
            async def sending(message: Message) -> None:
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    retries.append(await api.add_user("retried-at-once"))
                await send(message)

            await api.app(scope, receive, sending)

        transport = ASGITransport(app=retry_at_the_last_byte)
        async with AsyncClient(transport=transport, base_url="http://test") as first_client:
            first = await api.add_user("retried-at-once", client=first_client)

        assert [retry.status_code for retry in retries] == [201]
        assert_replayed(retries[0], first)

    async def test_the_same_key_with_another_body_is_422(self, api: Api) -> None:
        assert (await api.add_user("k-1")).status_code == 201

        other = await api.add_user("k-1", "other@acme.example.com")

        assert assert_problem(other, 422)["type"].endswith("idempotency-key-reused")
        assert await api.users("other@acme.example.com") == 0

    async def test_keys_are_scoped_to_the_user(self, api: Api) -> None:
        by_admin = await api.add_user("shared-key")
        by_owner = await api.add_user("shared-key", "o@acme.example.com", actor=api.org.owner)

        assert (by_admin.status_code, by_owner.status_code) == (201, 201)
        assert "idempotent-replayed" not in by_owner.headers

    async def test_without_the_header_nothing_changes(self, api: Api) -> None:
        first = await api.add_user(None)
        second = await api.add_user(None)

        assert first.status_code == 201
        assert assert_problem(second, 409)["type"].endswith("email-taken")  # it ran again

    async def test_a_refused_request_leaves_its_key_free(self, api: Api) -> None:
        """A 4xx rolled its transaction back: nothing ran, so nothing is replayed. Once the
        conflict is gone, the same request under the same key runs."""
        member = api.org.member.user
        refused = await api.add_user("retry-later", member.email)
        removed = await api.client.delete(f"{USERS}/{member.id}", headers=api.org.admin.headers)
        retried = await api.add_user("retry-later", member.email)

        assert assert_problem(refused, 409)["type"].endswith("email-taken")
        assert removed.status_code == 204
        assert (retried.status_code, "idempotent-replayed" in retried.headers) == (201, False)

    @pytest.mark.overrides("a user service that fails")
    async def test_a_failed_request_releases_its_key(self, api: Api) -> None:
        async def broken() -> None:
            raise RuntimeError("database on fire")

        api.app.dependency_overrides[get_user_service] = broken
        assert (await api.add_user("retry-me")).status_code == 500
        assert await api.redis.keys("idempotency:*") == []
        assert await api.keys() == 0  # rolled back with the write

        del api.app.dependency_overrides[get_user_service]
        retried = await api.add_user("retry-me")
        assert (retried.status_code, "idempotent-replayed" in retried.headers) == (201, False)


def keyed_app(real: FastAPI) -> FastAPI:
    """A route of the test's own, `POST /parents/{parent}/children`, keyed as the app's creates
    are (the real resources, problem handlers, recorder and dependency): one route template
    with many paths, and a response with the headers a replay repeats."""
    app = FastAPI()
    app.state.settings = real.state.settings
    app.state.resources = real.state.resources
    install_problem_handlers(app)
    install_idempotency(app)  # the recorder innermost, as in app/main.py
    app.add_middleware(RequestContextMiddleware)  # the request id the problems carry

    @app.post("/parents/{parent}/children", status_code=201, dependencies=[Depends(idempotency)])
    async def add_child(parent: str, _: RequestContextDep, response: Response) -> dict[str, str]:
        response.headers["Location"] = f"/parents/{parent}/children/1"
        response.headers["ETag"] = '"1"'
        response.headers["X-Not-Replayed"] = "this response's own"
        return {"parent": parent}

    return app


AddChild = Callable[[str, Actor, str], Awaitable[ClientResponse]]
"""`add(parent, actor, key)`: POST /parents/{parent}/children as `actor` with the key."""


class TestOneRouteManyPaths:
    @pytest.fixture
    async def children(self, app: FastAPI) -> AddChild:
        transport = ASGITransport(app=keyed_app(app))

        async def add(parent: str, actor: Actor, key: str) -> ClientResponse:
            async with AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post(f"/parents/{parent}/children", headers=keyed(actor, key))

        return add

    async def test_the_replay_repeats_the_status_body_type_location_and_etag(
        self, children: AddChild, acme: Org
    ) -> None:
        first = await children("a", acme.member, "child")
        again = await children("a", acme.member, "child")

        assert_replayed(again, first)
        replayed = {"content-type", "location", "etag"}
        assert {name: again.headers[name] for name in replayed} == {
            name: first.headers[name] for name in replayed
        }
        assert "x-not-replayed" not in again.headers

    async def test_the_same_key_on_another_path_is_422_not_a_replay(
        self, children: AddChild, acme: Org
    ) -> None:
        """Two parents' children share a route template; the key must not replay across them."""
        assert (await children("a", acme.member, "child")).status_code == 201

        other = await children("b", acme.member, "child")

        assert assert_problem(other, 422)["type"].endswith("idempotency-key-reused")


def wrapping(
    provider: Callable[..., Awaitable[Any]], wrap: Callable[[Any], Any]
) -> Callable[..., Awaitable[Any]]:
    """An override for `provider` that takes the same dependencies and wraps what it returns
    (an override that depended on `provider` itself would be replaced by itself)."""

    # functools.wraps: FastAPI resolves the parameters of the signature it points at.
    @functools.wraps(provider)
    async def override(*args: Any, **kwargs: Any) -> Any:
        return wrap(await provider(*args, **kwargs))

    return override


class RedisThatCannotStoreResponses(Redis):
    """Redis blips exactly once per request: when the response is being stored."""

    async def set(self, name: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        if '"state": "done"' in str(value):
            raise RedisConnectionError("Connection reset by peer")
        return await super().set(name, value, *args, **kwargs)


class ResponsesAreLost(IdempotencyStore):
    """Neither PostgreSQL nor Redis takes the response (say the process dies there)."""

    async def complete(self, claim: Claim, response: StoredResponse) -> None:
        raise RedisConnectionError("Connection reset by peer")


def losing_responses(store: IdempotencyStore) -> IdempotencyStore:
    return ResponsesAreLost(store.keys, store.cache, store.session_factory, ttl_seconds=store.ttl)


class TestAWriteNeverRunsTwice:
    async def test_item5_when_storing_the_response_in_redis_fails(self, api: Api) -> None:
        """The reported reproduction: Redis fails right after the write commits, the pending
        lease expires, and the retry must not run the write again."""
        pool = api.redis.connection_pool  # the test's Redis database, as the app's
        use_resources(api.app, redis=RedisThatCannotStoreResponses(connection_pool=pool))

        first = await api.add_user("add-once")
        while_pending = await api.add_user("add-once")
        await api.expire_redis_leases()
        after_lease = await api.add_user("add-once")

        assert await api.users() == 1
        assert_replayed(while_pending, first)
        assert_replayed(after_lease, first)

    @pytest.mark.overrides("a store whose complete() fails")
    async def test_item5_a_committed_write_whose_response_was_lost_is_409(self, api: Api) -> None:
        overrides = api.app.dependency_overrides
        overrides[get_idempotency_store] = wrapping(get_idempotency_store, losing_responses)
        first = await api.add_user("lost")
        del overrides[get_idempotency_store]

        soon = await api.add_user("lost")
        await api.expire_redis_leases()
        await api.age_keys(61)  # past the lease: it will not be recorded now
        later = await api.add_user("lost")

        assert first.status_code == 201
        assert assert_problem(soon, 409)["type"].endswith("idempotency-in-flight")
        assert assert_problem(later, 409)["type"].endswith("idempotency-response-not-recorded")
        assert await api.users() == 1

    async def test_item5_the_response_is_replayed_from_postgresql_when_redis_lost_it(
        self, api: Api
    ) -> None:
        first = await api.add_user("flushed")
        await api.redis.flushdb()  # a restart without persistence, an eviction, a failover

        again = await api.add_user("flushed")

        assert_replayed(again, first)
        assert await api.users() == 1

    async def test_keys_keep_working_from_postgresql_when_redis_is_down(
        self, api: Api, redis_down: Resources
    ) -> None:
        """Before item 5 of issue 10 this was a 503: Redis was the only record of a key."""
        first = await api.add_user("no-redis")
        again = await api.add_user("no-redis")
        other = await api.add_user("no-redis", "other@acme.example.com")

        assert_replayed(again, first)
        assert assert_problem(other, 422)["type"].endswith("idempotency-key-reused")
        assert await api.users() == 1


class TestExpiry:
    async def test_item5_a_key_older_than_the_ttl_is_free_again(self, api: Api) -> None:
        """The user is removed in between, so that running the create again can succeed."""
        ttl = api.app.state.settings.idempotency.ttl_seconds
        first = await api.add_user("daily")
        removed = await api.client.delete(
            f"{USERS}/{first.json()['id']}", headers=api.org.admin.headers
        )
        await api.redis.flushdb()  # its Redis copy expires with the same TTL
        await api.age_keys(ttl - 5)
        within = await api.add_user("daily")
        await api.redis.flushdb()
        await api.age_keys(10)  # now ttl + 5 seconds old

        after = await api.add_user("daily")

        assert removed.status_code == 204
        assert_replayed(within, first)
        assert (after.status_code, "idempotent-replayed" in after.headers) == (201, False)
        assert after.json()["id"] != first.json()["id"]
        assert await api.users() == 1
        assert await api.keys() == 1  # taken over, not duplicated
