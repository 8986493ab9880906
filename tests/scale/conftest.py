"""A cluster of app replicas: three uvicorn processes on their own ports, one PostgreSQL database
and one Redis, nginx in front as a round-robin balancer; once with the replicas connected to
PostgreSQL directly and once through PgBouncer in transaction mode
(`DATABASE__TRANSACTION_POOLING`). Everything is started here, in the test's folders, and
stopped afterwards."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import NullPool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.config import Settings
from tests.fixtures.database import fresh_database
from tests.fixtures.nginx import balancing
from tests.fixtures.pgbouncer import login_of, pgbouncer, through
from tests.fixtures.ports import unused_port
from tests.fixtures.server import Server, server_process
from tests.scale.calls import REPLICAS

LOGIN_LIMIT = 6
"""Login attempts per account and period: with counters per process, three replicas would
allow three times as many."""
ENVIRONMENT = {
    # Cheap password hashing: the checks sign up and log in often.
    "AUTH__ARGON2_TIME_COST": "1",
    "AUTH__ARGON2_MEMORY_COST_KIB": "1024",
    "AUTH__ARGON2_PARALLELISM": "1",
    "RATE_LIMIT__LOGIN_PER_ACCOUNT__LIMIT": str(LOGIN_LIMIT),
    "RATE_LIMIT__LOGIN_PER_ACCOUNT__PERIOD_SECONDS": "300",
    # Every request comes from 127.0.0.1: the per-address limits would refuse the checks.
    "RATE_LIMIT__LOGIN_PER_ADDRESS__LIMIT": "100000",
    "RATE_LIMIT__LOGIN_PER_ADDRESS__PERIOD_SECONDS": "60",
    "RATE_LIMIT__SIGNUP_PER_ADDRESS__LIMIT": "100000",
    "RATE_LIMIT__SIGNUP_PER_ADDRESS__PERIOD_SECONDS": "60",
    "DATABASE__POOL_SIZE": "10",
}
# Fewer server connections than the replicas' pools hold (3 x 10): PgBouncer has to hand one
# server connection to many clients in turn, which is what transaction pooling is.
PGBOUNCER_POOL_SIZE = 8


@dataclass
class Cluster:
    url: str  # the balancer
    settings: Settings  # the replicas' (through PgBouncer or not)
    owner: AsyncEngine  # the tables' owner, connected directly: checks what is stored
    folder: Path
    replicas: list[Server]
    stack: AsyncExitStack = field(repr=False)

    def address(self, replica: int) -> str:
        """How the balancer names the replica (`X-Upstream`)."""
        return self.replicas[replica].url.removeprefix("http://")

    @property
    def addresses(self) -> set[str]:
        return {self.address(replica) for replica in range(len(self.replicas))}

    async def kill(self, replica: int) -> None:
        """SIGKILL: no shutdown, no response to what it was serving."""
        process = self.replicas[replica].process
        process.kill()
        await process.wait()

    async def restart(self, replica: int) -> None:
        """A new process on the dead one's port, so the balancer's rotation is whole again."""
        port = make_url(self.replicas[replica].url).port
        self.replicas[replica] = await self.stack.enter_async_context(
            server_process(
                self.settings,
                self.folder / f"replica-{replica}.log",
                environment=ENVIRONMENT,
                port=port,
            )
        )


@pytest.fixture(scope="package")
async def scale_database(settings: Settings) -> Settings:
    """A database of the cluster's own: its commits never meet the suite's data."""
    return await fresh_database(settings, "scale")


@pytest.fixture(scope="package", params=["direct", "pgbouncer"])
async def cluster(
    request: pytest.FixtureRequest,
    scale_database: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Cluster]:
    folder = tmp_path_factory.mktemp(f"scale-{request.param}")
    async with AsyncExitStack() as stack:
        replica_settings = scale_database
        if request.param == "pgbouncer":
            replica_settings = await stack.enter_async_context(
                through_pgbouncer(scale_database, folder / "pgbouncer")
            )
        ports = [unused_port() for _ in range(REPLICAS)]
        replicas = await start_replicas(stack, replica_settings, folder, ports)
        url = await stack.enter_async_context(balancing(ports, folder / "nginx"))
        owner = create_async_engine(scale_database.database.owner_url, poolclass=NullPool)
        stack.push_async_callback(owner.dispose)
        yield Cluster(url, replica_settings, owner, folder, replicas, stack)


@asynccontextmanager
async def through_pgbouncer(settings: Settings, folder: Path) -> AsyncIterator[Settings]:
    """A PgBouncer in front of the database, and the replicas' settings that use it."""
    async with pgbouncer(
        folder,
        server_url=settings.database.url,
        users=login_of(settings.database.url),
        pool_size=PGBOUNCER_POOL_SIZE,
    ) as port:
        database = settings.database.model_copy(
            update={"url": through(settings.database.url, port), "transaction_pooling": True}
        )
        yield settings.model_copy(update={"database": database})


async def start_replicas(
    stack: AsyncExitStack, settings: Settings, folder: Path, ports: list[int]
) -> list[Server]:
    """The replicas, started side by side; if one fails to start, the others are stopped."""
    replicas: dict[int, Server] = {}

    async def start(replica: int) -> None:
        replicas[replica] = await stack.enter_async_context(
            server_process(
                settings,
                folder / f"replica-{replica}.log",
                environment=ENVIRONMENT,
                port=ports[replica],
            )
        )

    async with asyncio.TaskGroup() as group:
        for replica in range(len(ports)):
            group.create_task(start(replica))
    return [replicas[replica] for replica in range(len(ports))]


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as client:
        yield client
