"""Redis crashes and comes back (docs/operations.md, "Faults and how the service recovers"): a
redis-server of the test's own is SIGKILLed under a running app, which keeps serving as
docs/production-features.md ("When Redis is down") says, and uses Redis again once the server is
restarted on the same port, without the app being restarted.

What proves that requests use Redis again is what the app writes into the restarted, empty
server (cache entries, a rate-limit window, denylist entries), read with a client of the test's
own, never the app's internals. Domain events are not among them: they are outbox rows, and none
is lost to the outage (the worker's relay publishes all of them once Redis is back).
"""

import asyncio
import re
import time
import uuid

from httpx import AsyncClient, Response

from app.auth.service import denied_family_key
from app.core.cache import entry_key
from app.core.config import RateLimitSettings, RedisSettings, Settings
from app.identity.cache import principal_key
from tests.faults.conftest import Tenants, log_in, new_session, running
from tests.fixtures.problems import assert_problem
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.settings import make_settings

# demo:begin
# isort: split
import json

from app.project.service import project_key
from tests.fixtures.auth import bearer
from tests.fixtures.outbox import as_worker, relay_once, stream_entries

# demo:end

COOLDOWN = 1.0  # REDIS__CIRCUIT_COOLDOWN_SECONDS of the app under test
RECOVERY_SECONDS = COOLDOWN + 10  # the circuit lets a call through after the cooldown
CONCURRENCY = 8  # concurrent requests, to fill the app's Redis pool with several connections
OUTAGE_SECONDS = 10  # all the requests sent while Redis is dead; none may wait on it
ME = "/api/v1/users/me"
# demo:begin
PROJECTS = "/api/v1/projects"
# demo:end


def settings_for(server: RedisServer, *, fail_open: bool = True) -> Settings:
    """A dead server refuses connections at once, so the socket timeout plays no part here: it
    is long, so that a loaded machine cannot fail a call the test expects to succeed. Every
    failure is logged (the interval), for the failure report."""
    return make_settings(
        redis=RedisSettings(
            url=server.url(),
            socket_timeout_seconds=2.0,
            circuit_cooldown_seconds=COOLDOWN,
            outage_log_interval_seconds=0.001,
        ),
        rate_limit=RateLimitSettings(fail_open=fail_open),
    )


def redis_errors(metrics: Response) -> float:
    """`redis_errors_total` from a /metrics answer."""
    match = re.search(r"^redis_errors_total (\S+)$", metrics.text, re.MULTILINE)
    assert match, metrics.text
    return float(match.group(1))


async def reads(client: AsyncClient, path: str, headers: dict[str, str], times: int) -> list[int]:
    """`times` concurrent GETs of `path`: their statuses. Their Redis calls overlap, so the app's
    pool grows to several connections."""
    responses = await asyncio.gather(*(client.get(path, headers=headers) for _ in range(times)))
    return [response.status_code for response in responses]


async def test_the_service_degrades_while_redis_is_dead_and_uses_it_again_once_restarted(
    redis_server: RedisServer, tenants: Tenants
) -> None:
    settings = settings_for(redis_server)
    async with running(settings) as (app, client):
        # Redis up: sessions a and b, a's principal in the cache, b logged out, and the app's
        # pool holding several connections (concurrent reads), all about to go stale.
        account = await tenants.sign_up(client)
        a, b = await new_session(client, account), await new_session(client, account)
        me = (await client.get(ME, headers=a.headers)).json()
        tenant_id = uuid.UUID(me["tenant_id"])
        principal = entry_key(principal_key(tenant_id, uuid.UUID(me["id"])))
        assert await reads(client, ME, a.headers, CONCURRENCY) == [200] * CONCURRENCY
        # demo:begin
        created = (await client.post(PROJECTS, json={"name": "Before"}, headers=a.headers)).json()
        project = f"{PROJECTS}/{created['id']}"
        cached_project = entry_key(project_key(tenant_id, uuid.UUID(created["id"])))
        assert await reads(client, project, a.headers, CONCURRENCY) == [200] * CONCURRENCY
        # demo:end
        assert (await client.post("/api/v1/auth/logout", headers=b.headers)).status_code == 204
        assert_problem(await client.get(ME, headers=b.headers), 401)
        async with redis_server.client() as inspect:
            assert await inspect.exists(principal) == 1
            # demo:begin
            assert await inspect.exists(cached_project) == 1
            # demo:end
            pooled = len(await inspect.client_list()) - 1  # the app's; the last is ours
        assert pooled >= 2

        await redis_server.kill()

        # Redis dead: PostgreSQL answers everything, and nothing waits on Redis.
        started = time.monotonic()
        async with asyncio.timeout(OUTAGE_SECONDS):
            me_a = await client.get(ME, headers=a.headers)  # the principal from PostgreSQL
            me_b = await client.get(ME, headers=b.headers)  # revocation from PostgreSQL
            # demo:begin
            read = await client.get(project, headers=a.headers)  # the cache skipped
            keyed = {**a.headers, "Idempotency-Key": "while-redis-is-dead"}
            written = await client.post(PROJECTS, json={"name": "During"}, headers=keyed)
            replayed = await client.post(PROJECTS, json={"name": "During"}, headers=keyed)
            # demo:end
            login = await log_in(client, account)  # its rate limits fail open
            ready = await client.get("/health/ready")
            errors_during_outage = redis_errors(await client.get("/metrics"))
        outage_took = time.monotonic() - started

        assert (me_a.status_code, me_a.json()["id"]) == (200, me["id"])
        assert_problem(me_b, 401)  # a logged-out token is never passed unchecked
        # demo:begin
        assert (read.status_code, read.json()["name"]) == (200, "Before")
        assert (written.status_code, replayed.status_code) == (201, 201)
        assert replayed.headers["idempotent-replayed"] == "true"
        assert replayed.json()["id"] == written.json()["id"]
        # demo:end
        assert login.status_code == 200
        assert ready.status_code == 200
        checks = ready.json()["checks"]
        assert (checks["redis"]["status"], checks["database"]["status"]) == ("degraded", "up")
        assert errors_during_outage > 0
        assert outage_took < OUTAGE_SECONDS

        await redis_server.start()  # the same port, empty: nothing survived the crash

        # Recovered without restarting the app: the circuit closes, requests use Redis again,
        # and no connection pooled before the crash fails a call (each would reopen the circuit).
        async with redis_server.client() as inspect:
            assert await inspect.dbsize() == 0
            async with asyncio.timeout(RECOVERY_SECONDS):
                while not await inspect.exists(principal):
                    assert (await client.get(ME, headers=a.headers)).status_code == 200
                    await asyncio.sleep(0.05)
            assert app.state.resources.redis_circuit.available  # closed again
            recovered_with = redis_errors(await client.get("/metrics"))
            assert await reads(client, ME, a.headers, CONCURRENCY) == [200] * CONCURRENCY
            # demo:begin
            assert (await client.get(project, headers=a.headers)).status_code == 200
            assert await inspect.exists(cached_project) == 1
            # demo:end
            login = await log_in(client, account)
            limit = settings.rate_limit.login_per_account.limit
            assert login.headers["ratelimit-remaining"] == str(limit - 1)  # a new window
            assert (await client.get("/health/ready")).json()["status"] == "ok"
            assert (await client.post("/api/v1/auth/logout", headers=a.headers)).status_code == 204
            assert await inspect.exists(denied_family_key(a.family)) == 1
            assert_problem(await client.get(ME, headers=a.headers), 401)
            # demo:begin
            after = await client.post(
                PROJECTS, json={"name": "After"}, headers=bearer(login.json()["access_token"])
            )
            assert after.status_code == 201
            # Events never depended on Redis: each is an outbox row of its write. The worker's
            # relay (one batch at a time, on the app's resources as the worker's login role)
            # publishes all three, the one
            # written while Redis was dead included, in order.
            async with as_worker(app.state.resources) as worker, asyncio.timeout(RECOVERY_SECONDS):
                while (await relay_once(worker)).full:
                    pass
            events = await stream_entries(inspect, tenant_id)
            assert [json.loads(event["data"])["name"] for event in events] == [
                "Before",
                "During",
                "After",
            ]
            # demo:end
            assert redis_errors(await client.get("/metrics")) == recovered_with


async def test_rate_limits_fail_closed_when_so_configured(
    redis_server: RedisServer, tenants: Tenants
) -> None:
    """RATE_LIMIT__FAIL_OPEN=false: while Redis is dead a rate-limited route answers 503, and
    once it is back the same app counts again."""
    async with running(settings_for(redis_server, fail_open=False)) as (_, client):
        await redis_server.kill()
        refused = await client.post("/api/v1/tenants", json=tenants.new())
        await redis_server.start()
        async with asyncio.timeout(RECOVERY_SECONDS):
            while True:  # refused until the circuit lets a call through to the new server
                signup = await client.post("/api/v1/tenants", json=tenants.new())
                if signup.status_code != 503:
                    break
                await asyncio.sleep(0.05)

    assert assert_problem(refused, 503)["type"].endswith("rate-limit-unavailable")
    assert signup.status_code == 201
    assert signup.headers["ratelimit-remaining"] == str(
        RateLimitSettings().signup_per_address.limit - 1
    )
