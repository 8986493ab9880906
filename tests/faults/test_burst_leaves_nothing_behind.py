"""A bounded burst against a real server process leaves nothing behind (docs/operations.md,
"Faults and how the service recovers").

`uvicorn --factory app.main:create_app`, configured through its environment like a deployment,
serves a mix of reads, writes, 4xx, forced 5xx (a PATCH waiting on a row another transaction
holds, cut off by DATABASE__STATEMENT_TIMEOUT_MS: a 503) and clients that hang up mid-request
(while their handler waits on that row) or mid-body, BURST requests at most CONCURRENCY in flight.
When it is over, the process is asked, from outside:

- every pooled PostgreSQL connection is checked in (`db_pool_checked_out_connections` on
  /metrics is 0) and PostgreSQL shows none of the process's sessions `idle in transaction` or
  still active (pg_stat_activity, matched to the process by its sockets' ports);
- no Redis connection is left borrowed: the process holds no more connections to its Redis
  (CLIENT LIST of a redis-server of the test's own) than there were requests in flight (a
  borrowed connection is never reused, so each leak would add one), and no Redis call failed
  (`redis_errors_total` is 0; a pool emptied by leaks fails its calls);
- its resident memory grew by less than RSS_GROWTH_BOUND over the burst, measured after a
  warm-up burst of the same mix.

A client that hangs up does not cancel its handler under uvicorn (it answers ASGI's
`http.disconnect` from `receive()`, and only when asked): the handler runs to its end and its
answer is dropped. Each such request carries an `X-Request-ID`, and the test checks that the
access log has a line for every one, so a handler that never ends would show.
"""

import asyncio
import os
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from tests.fixtures.committed import CommittedOrg, Holder
from tests.fixtures.ports import unused_port
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.server import (
    ProcessOutput,
    server_environment,
    uvicorn_process,
    wait_until_ready,
)

BURST = 2000
WARM_UP = 400
CONCURRENCY = 50
# Long enough that no ordinary statement reaches it on a loaded 2-core machine (the 503s must be
# exactly the forced ones), short enough that the forced ones cost little: 100 x 1 s over 50 slots.
STATEMENT_TIMEOUT_MS = 1000
RSS_GROWTH_BOUND = 16 * 1024 * 1024  # measured: 1-2.5 MiB over the burst
QUIET_SECONDS = 15  # for the last requests to end once the burst is sent
USERS = "/api/v1/users"
# The Dockerfile's protocol options (tests/e2e/test_server_limits.py holds the image to them),
# but a keep-alive longer than the test: the server closing an idle connection just as the
# client reuses it would be a transport error that says nothing about the app.
SERVER_OPTIONS = (
    *("--http", "h11", "--h11-max-incomplete-event-size", "16384"),
    *("--limit-concurrency", "200", "--timeout-keep-alive", "120"),
)

pytestmark = pytest.mark.load

Send = Callable[[httpx.AsyncClient, int], Awaitable[int | None]]


def tcp_peer_ports(pid: int, remote_port: int) -> set[int]:
    """The local ports of `pid`'s TCP connections to `remote_port` (Linux: its socket inodes
    in /proc/<pid>/fd, looked up in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed in the meantime
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def resident_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


def gauge(metrics: str, name: str) -> float:
    """The sum of every sample of `name` in a /metrics answer."""
    pattern = rf"^{name}(?:{{[^}}]*}})? (\S+)$"
    return sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE))


class Mix:
    """Request i of a burst is kind KINDS[i % len(KINDS)]: 40 slots, of which 24 reads, 6
    writes, 4 client errors, 2 forced 5xx, 2 hang-ups mid-request and 2 mid-body."""

    KINDS = (
        ["read"] * 16 + ["list"] * 4 + ["me"] * 4 + ["write"] * 6
        + ["missing", "invalid", "anonymous", "forbidden"]
        + ["timeout", "timeout", "hang-up", "hang-up", "half-body", "half-body"]
    )  # fmt: skip

    def __init__(
        self, org: CommittedOrg, locked: uuid.UUID, targets: list[uuid.UUID], port: int
    ) -> None:
        self.org = org
        self.locked = locked
        # The users the writes change, one per request in flight: consecutive requests never
        # change the same row, so no write waits on another's lock (only the timeouts wait).
        self.targets = targets
        self.port = port
        self.hung_up: list[str] = []  # the X-Request-IDs of the clients that hung up

    async def send(self, client: httpx.AsyncClient, index: int) -> int | None:
        """Send request `index`; its status, or None for a client that hung up."""
        kind = self.KINDS[index % len(self.KINDS)]
        admin, member = self.org.admin.headers, self.org.member.headers
        if kind in ("hang-up", "half-body"):
            await self.hang_up(index, whole_body=kind == "hang-up")
            return None
        if kind == "read":  # from the cache: one Redis round trip, no SQL
            response = await client.get(f"{USERS}/me", headers=admin)
        elif kind == "list":
            response = await client.get(USERS, headers=admin)
        elif kind == "me":
            response = await client.get(f"{USERS}/me", headers=member)
        elif kind == "write":
            path = f"{USERS}/{self.targets[index % len(self.targets)]}"
            response = await client.patch(path, json={"is_active": True}, headers=admin)
        elif kind == "missing":
            path = f"{USERS}/{uuid.uuid4()}"
            response = await client.patch(path, json={"is_active": True}, headers=admin)
        elif kind == "invalid":
            path = f"{USERS}/{self.targets[index % len(self.targets)]}"
            response = await client.patch(path, json={"role": "?"}, headers=admin)
        elif kind == "anonymous":
            response = await client.get(USERS)
        elif kind == "forbidden":  # a member may not manage users
            response = await client.get(USERS, headers=member)
        else:  # timeout: waits on the locked row past the statement timeout
            path = f"{USERS}/{self.locked}"
            response = await client.patch(path, json={"is_active": False}, headers=admin)
        return response.status_code

    async def hang_up(self, index: int, *, whole_body: bool) -> None:
        """A client that sends a PATCH of the locked user (all of it: its handler then waits
        on the row; or half the body: the server waits for the rest) and hangs up. It closes
        (FIN, not RST), so what it sent is delivered first and the request always reaches the
        app: then the access log must show its end."""
        request_id = f"hang-up-{index}"
        self.hung_up.append(request_id)
        body = b'{"is_active": false}'
        head = (
            f"PATCH {USERS}/{self.locked} HTTP/1.1\r\nHost: test\r\n"
            f"Authorization: {self.org.admin.headers['Authorization']}\r\n"
            f"X-Request-ID: {request_id}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(head + (body if whole_body else body[: len(body) // 2]))
        await writer.drain()
        await asyncio.sleep(STATEMENT_TIMEOUT_MS / 3000)  # the handler is under way, mostly
        writer.close()


async def burst(client: httpx.AsyncClient, send: Send, count: int) -> Counter[int | None]:
    """`count` requests, CONCURRENCY at a time; how many answered each status."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int) -> int | None:
        async with gate:
            return await send(client, index)

    return Counter(await asyncio.gather(*(one(index) for index in range(count))))


@pytest.mark.usefixtures("engine")  # the database is migrated: /health/ready can answer 200
async def test_a_burst_with_errors_and_hang_ups_leaves_no_connection_or_memory_behind(
    settings: Settings, committed_org: CommittedOrg, redis_server: RedisServer
) -> None:
    locked = uuid.uuid4()
    async with committed_org.owner.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, password_hash, full_name, role) "
                "VALUES (:id, :tenant, 'locked@race.example', 'not-a-hash', 'Locked', 'viewer')"
            ),
            {"id": locked, "tenant": committed_org.tenant.id},
        )
        targets = [uuid.uuid4() for _ in range(CONCURRENCY)]
        await connection.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, password_hash, full_name, role) "
                "SELECT id, :tenant, id::text || '@race.example', 'not-a-hash', 'Target', 'viewer'"
                " FROM unnest(CAST(:ids AS uuid[])) AS id"
            ),
            {"ids": targets, "tenant": committed_org.tenant.id},
        )
    port = unused_port()
    environment = server_environment(
        settings,
        {
            "REDIS__URL": redis_server.url(),
            # The shared PostgreSQL has 100 connections for every test run on this machine.
            "DATABASE__POOL_SIZE": "10",
            "DATABASE__MAX_OVERFLOW": "5",
            "DATABASE__STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
            "AUTH__SECRET_KEY": settings.auth.secret_key.get_secret_value(),  # the tokens' key
        },
    )
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with (
        uvicorn_process("app.main:create_app", port, environment, *SERVER_OPTIONS) as process,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client,
        redis_server.client() as inspect,
    ):
        assert process.stdout is not None
        output = ProcessOutput(process.stdout)
        await wait_until_ready(client)
        mix = Mix(committed_org, locked, targets, port)
        async with Holder(committed_org.owner) as holder:
            await holder.execute("SELECT FROM users WHERE id = :id FOR UPDATE", id=locked)
            warm_up = await burst(client, mix.send, WARM_UP)
            await quiet(client)
            rss_before = resident_bytes(process.pid)
            answered = await burst(client, mix.send, BURST)
        metrics = await quiet(client)
        rss_after = resident_bytes(process.pid)
        sessions = await sessions_of(committed_org.owner, process.pid, settings)
        clients = await clients_of(inspect, process.pid, redis_server.port)
        process.terminate()
        await process.wait()
        await output.finish()

    expected = {200, 401, 403, 404, 422, 503, None}
    assert set(answered) == expected, answered
    assert set(warm_up) == expected, warm_up
    assert answered[503] == BURST // len(Mix.KINDS) * Mix.KINDS.count("timeout")  # only those
    assert gauge(metrics, "db_pool_checked_out_connections") == 0
    assert gauge(metrics, "redis_errors_total") == 0
    assert sessions, "the process's PostgreSQL sessions were not found"
    assert set(sessions) == {"idle"}, Counter(sessions)
    assert 0 < len(clients) <= CONCURRENCY, len(clients)
    assert rss_after - rss_before < RSS_GROWTH_BOUND, (rss_before, rss_after)
    lines = output.lines()
    access = [line for line in lines if line["logger"] == "app.access"]
    assert {line["request_id"] for line in access} >= set(mix.hung_up)  # their handlers ended
    assert 500 not in {line["status"] for line in access}
    errors = [line for line in lines if line["level"] in ("error", "critical")]
    assert errors == [line for line in access if line["status"] == 503]  # nothing else failed


async def sessions_of(owner: AsyncEngine, pid: int, settings: Settings) -> list[str]:
    """The state of each PostgreSQL session of the process `pid`."""
    ports = tcp_peer_ports(pid, make_url(settings.database.url).port or 5432)
    statement = text(
        "SELECT state FROM pg_stat_activity "
        "WHERE client_port = ANY(:ports) AND datname = current_database()"
    )
    async with owner.connect() as connection:
        return list((await connection.execute(statement, {"ports": list(ports)})).scalars())


async def clients_of(inspect: Redis, pid: int, redis_port: int) -> list[dict[str, str]]:
    """The CLIENT LIST entries of the process `pid` (`addr=127.0.0.1:<its port>`)."""
    ports = tcp_peer_ports(pid, redis_port)
    entries: list[dict[str, str]] = await inspect.client_list()
    return [entry for entry in entries if int(entry["addr"].rsplit(":", 1)[1]) in ports]


async def quiet(client: httpx.AsyncClient) -> str:
    """Wait until the server has no request in flight but this scrape and no pooled connection
    checked out (a handler whose client hung up may still be ending after its request is no
    longer counted); the /metrics text it then answered. A handler that never ends, or a
    connection never checked in, fails here (the timeout)."""
    async with asyncio.timeout(QUIET_SECONDS):
        while True:
            metrics = (await client.get("/metrics")).text
            if (
                gauge(metrics, "http_requests_in_progress") == 1  # this scrape
                and gauge(metrics, "db_pool_checked_out_connections") == 0
            ):
                return metrics
            await asyncio.sleep(0.05)
