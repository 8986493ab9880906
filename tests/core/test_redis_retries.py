"""Issue 10, "Also found": one Redis call is one attempt, so a hung Redis costs a request one
socket timeout, not several.

The bound is shown by behaviour, not by timing: a TCP server owned by the test accepts
connections and never answers (or answers the connection handshake and then never answers the
command), and counts what reaches it during one call of the app's client.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.core.config import RedisSettings
from app.core.redis import NO_RETRY, create_redis_client, create_redis_pool

HANDSHAKE = {"HELLO": b"%0\r\n", "CLIENT": b"+OK\r\n", "SELECT": b"+OK\r\n"}


@dataclass
class HungRedis:
    """Accepts connections; answers the handshake only if `handshake`; never answers a command."""

    handshake: bool
    connections: int = 0
    commands: list[str] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while (command := await read_command(reader)) is not None:
                self.commands.append(command)
                if self.handshake and command in HANDSHAKE:
                    writer.write(HANDSHAKE[command])
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def attempts(self, name: str) -> int:
        return self.commands.count(name)


async def read_command(reader: asyncio.StreamReader) -> str | None:
    """The name of the next RESP command (an array of bulk strings), or None at EOF."""
    header = await reader.readline()
    if not header:
        return None
    words = []
    for _ in range(int(header[1:])):
        size = int((await reader.readline())[1:])
        words.append((await reader.readexactly(size + 2))[:-2].decode())
    return words[0].upper()


@pytest.fixture(params=[False, True], ids=["silent", "answers-the-handshake"])
async def hung_redis(request: pytest.FixtureRequest) -> AsyncIterator[HungRedis]:
    hung = HungRedis(handshake=request.param)
    server = await asyncio.start_server(hung.serve, "127.0.0.1", 0)
    hung.port = server.sockets[0].getsockname()[1]
    async with server:
        yield hung
        server.close()


async def call_once(hung: HungRedis, retry: Retry | None = None) -> None:
    settings = RedisSettings(url=f"redis://127.0.0.1:{hung.port}/0", socket_timeout_seconds=0.05)
    pool = create_redis_pool(settings)
    if retry is not None:  # only to show that the test sees retries when there are some
        pool.connection_kwargs["retry"] = retry
    client = create_redis_client(pool)
    try:
        with pytest.raises(RedisTimeoutError):
            await client.get("key")
    finally:
        await client.aclose(close_connection_pool=True)


async def test_one_call_is_one_attempt_against_a_hung_redis(hung_redis: HungRedis) -> None:
    await call_once(hung_redis)

    assert hung_redis.connections == 1
    if hung_redis.handshake:
        assert hung_redis.attempts("GET") == 1  # the command itself, sent once
    else:
        assert hung_redis.commands == ["HELLO"]  # stuck in the handshake: GET never sent


async def test_the_count_would_show_retries(hung_redis: HungRedis) -> None:
    # The counterpart that makes the first test meaningful: with one retry configured, the same
    # hung server sees a second connection (and a second GET).
    await call_once(hung_redis, retry=Retry(NoBackoff(), retries=1))

    assert hung_redis.connections == 2
    if hung_redis.handshake:
        assert hung_redis.attempts("GET") == 2


def test_the_pool_pins_no_retry() -> None:
    pool = create_redis_pool(RedisSettings())
    assert pool.connection_kwargs["retry"] is NO_RETRY
