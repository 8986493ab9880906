"""uvicorn's limits (docs/operations.md, "Server limits"): the same options in the Dockerfile's CMD,
docker-compose.yml's api command and `make run`, and what they do in a real uvicorn process
started with the Dockerfile's options (on 127.0.0.1 and a free port).

Deterministic, without timing: a connection is known to the server once it has answered a request
on it, and it stays open without a keep-alive timeout once the next request head has begun
(uvicorn waits for the rest of a head without a limit of time; --limit-concurrency is what bounds
how many such connections there can be)."""

import asyncio
import json
import os
import re
import shlex
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML has no inline types; no stubs installed

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60  # importing the app takes seconds on a loaded machine
ANSWER_SECONDS = 10  # any one answer the test waits for
# The limits every production run command sets (--timeout-graceful-shutdown: its own test).
LIMITS = (
    "--http",
    "--h11-max-incomplete-event-size",
    "--limit-concurrency",
    "--timeout-keep-alive",
    "--timeout-graceful-shutdown",
)
TAKES_A_VALUE = {"--host", "--port", *LIMITS}


def options(argv: list[str]) -> dict[str, str | None]:
    """uvicorn's options in a command line (the words from `uvicorn` on): option -> value, None
    for an option without one."""
    words = argv[argv.index("uvicorn") + 1 :]
    found: dict[str, str | None] = {}
    for index, word in enumerate(words):
        if word.startswith("--"):
            found[word] = words[index + 1] if word in TAKES_A_VALUE else None
    return found


def dockerfile_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    commands: list[list[str]] = [
        json.loads(match.replace("\\\n", " "))
        for match in re.findall(r"^CMD (\[.*?\])$", text, re.MULTILINE | re.DOTALL)
    ]
    [command] = [command for command in commands if "uvicorn" in command]
    return command


def compose_command() -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return [str(word) for word in compose["services"]["api"]["command"]]


def make_run_command() -> list[str]:
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].splitlines()[1]
    return shlex.split(recipe)


RUN_COMMANDS = {
    "Dockerfile CMD": dockerfile_command,
    "docker-compose.yml api": compose_command,
    "make run": make_run_command,
}


class TestEveryProductionRunCommand:
    @pytest.mark.parametrize("where", RUN_COMMANDS)
    def test_sets_every_limit_as_the_dockerfile_does(self, where: str) -> None:
        expected = {option: options(dockerfile_command()).get(option) for option in LIMITS}
        found = {option: options(RUN_COMMANDS[where]()).get(option) for option in LIMITS}

        assert None not in expected.values(), expected
        assert found == expected

    def test_compose_runs_exactly_the_image_command(self) -> None:
        assert compose_command() == dockerfile_command()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def limit(option: str) -> int:
    value = options(dockerfile_command())[option]
    assert value is not None
    return int(value)


@asynccontextmanager
async def uvicorn_as_the_image_runs_it(settings: Settings) -> AsyncIterator[int]:
    """The Dockerfile's uvicorn options, on tests/e2e/docs_app.py (the real app, settings from
    the environment only), 127.0.0.1 and a free port; killed on the way out."""
    port = free_port()
    argv = dockerfile_command()
    argv = argv[argv.index("uvicorn") + 1 :]
    argv[argv.index("app.main:create_app")] = "tests.e2e.docs_app:create"
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    environment = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE__URL": settings.database.url,
        "DATABASE__MIGRATION_URL": settings.database.owner_url,
        "REDIS__URL": settings.redis.url,
        "OPERATIONS__LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        *argv,
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            async with asyncio.timeout(STARTUP_SECONDS):
                while process.returncode is None:
                    try:
                        if (await client.get("/health/live")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
        assert process.returncode is None, f"uvicorn exited with {process.returncode}"
        yield port
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


class Connection:
    """One raw HTTP/1.1 connection: whole requests, or a request head left unfinished."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def status_of(self, head: bytes) -> int:
        """Send `head` and read the answer's status (and its body, so the next can follow)."""
        self.writer.write(head)
        async with asyncio.timeout(ANSWER_SECONDS):
            status_line = await self.reader.readline()
            length = 0
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def begin(self, head: bytes) -> None:
        self.writer.write(head)

    def close(self) -> None:
        self.writer.close()


def get(path: str, *extra: bytes) -> bytes:
    return b"".join([f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode(), *extra, b"\r\n"])


@pytest.mark.usefixtures("engine", "redis")  # migrated database; Redis flushed before and after
async def test_the_images_limits_hold_in_a_real_uvicorn(settings: Settings) -> None:
    head_limit = limit("--h11-max-incomplete-event-size")
    concurrency = limit("--limit-concurrency")
    async with AsyncExitStack() as stack:
        port = await stack.enter_async_context(uvicorn_as_the_image_runs_it(settings))

        # A head still unfinished past the limit is refused at once; one within it is served.
        padding = b"X-Padding: " + b"a" * (head_limit - 1024)
        within = await Connection.open(port)
        stack.callback(within.close)
        assert await within.status_of(get("/health/live", padding, b"\r\n")) == 200
        past = await Connection.open(port)
        stack.callback(past.close)
        assert await past.status_of(get("/health/live", padding, b"a" * 2048)) == 400

        # Connections held open (each answered once, then in the middle of its next head) count
        # against --limit-concurrency: below it a new request is served, at it refused with 503.
        held: list[Connection] = [within]  # `within` now idles: hold it too
        within.begin(b"GET /health/live HTTP/1.1\r\n")

        async def hold() -> Connection:
            connection = await Connection.open(port)
            stack.callback(connection.close)
            assert await connection.status_of(get("/health/live")) == 200
            connection.begin(b"GET /health/live HTTP/1.1\r\n")
            return connection

        # The server closed `past`. With one connection fewer than the limit held, the next is
        # served (and held); with the limit reached, the one after it is refused.
        held += await asyncio.gather(*(hold() for _ in range(concurrency - 1 - len(held) - 1)))
        held.append(await hold())
        assert len(held) == concurrency - 1
        refused = await Connection.open(port)
        stack.callback(refused.close)
        assert await refused.status_of(get("/health/live")) == 503
