"""Where a Dependable request's time goes: cProfile over a few thousand requests, in-process.

Run by the runner as `python -m bench.profile SPEC.json OUT.json` in a process of its own, with
the servers' environment (Dependable reads its settings from it). The app runs with its real
lifespan; httpx's ASGITransport sends the requests one at a time, and the profiler is on only
while the app handles a request, so the client's own work is not counted. The default asyncio
loop is used (not uvloop) so that the time spent waiting for PostgreSQL and Redis shows up as
its own frame (`select.epoll.poll`) instead of hiding in C.
"""

import asyncio
import cProfile
import json
import pstats
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from httpx import ASGITransport, AsyncClient
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.importer import import_from_string

from bench.servers import DEPENDABLE_IS_FACTORY, DEPENDABLE_TARGET, ROOT

WAIT_FRAME = "<method 'poll' of 'select.epoll' objects>"
# Left out of the cumulative table: the profiler's wrapper, the client (httpx) and the asyncio
# plumbing a resumed coroutine chain passes through (cProfile sees every frame of the chain
# "called" again on each resumption, the client's frames included).
SKIP_CUMULATIVE = ("bench/profile.py", "/httpx/", "/asyncio/", "_contextvars.Context")


class Profiled:
    """Turns the profiler on for the duration of each request the app handles."""

    def __init__(self, app: ASGIApp, profiler: cProfile.Profile) -> None:
        self.app = app
        self.profiler = profiler
        self.enabled = False
        self.wall = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        self.profiler.enable()
        try:
            await self.app(scope, receive, send)
        finally:
            self.profiler.disable()
            self.wall += time.perf_counter() - started


def package_of(filename: str, name: str) -> str:
    """Which library a frame belongs to, for the 'own time by package' table."""
    if name == WAIT_FRAME:
        return "waiting for PostgreSQL/Redis (epoll)"
    if filename == "~":
        for marker, package in (
            ("pydantic_core", "pydantic"),
            ("asyncpg", "asyncpg"),
            ("_hashlib", "hashing (hmac/sha256)"),
            ("select.", "waiting for PostgreSQL/Redis (epoll)"),
        ):
            if marker in name:
                return package
        return "C builtins (other)"
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith(str(ROOT / "app") + "/"):
        return "app (Dependable's own code)"
    if "/asyncio/" in filename:
        return "asyncio"
    return "Python stdlib (other)"


def short(filename: str, line: int, name: str) -> str:
    """`fastapi/routing.py:151 app`, `app/task/router.py:24 list_tasks`, `selectors.py:451 ...`."""
    if filename == "~":
        return name
    return f"{tidy_path(filename)}:{line} {name}"


def tidy_path(filename: str) -> str:
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1]
    if filename.startswith(str(ROOT) + "/"):
        return filename.removeprefix(str(ROOT) + "/")
    return re.sub(r"^.*/lib/python3\.\d+/", "", filename)


@dataclass(frozen=True, slots=True)
class Spec:
    method: str
    path: str
    body: str | None
    token: str
    requests: int
    seconds: float
    warmup: int


async def profile(spec: Spec) -> dict[str, Any]:
    target = import_from_string(DEPENDABLE_TARGET)
    app = target() if DEPENDABLE_IS_FACTORY else target
    profiler = cProfile.Profile()
    profiled = Profiled(app, profiler)
    headers = {"Authorization": f"Bearer {spec.token}"}
    if spec.body is not None:
        headers["Content-Type"] = "application/json"
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=profiled), base_url="http://bench") as client,
    ):

        async def send() -> None:
            response = await client.request(
                spec.method, spec.path, headers=headers, content=spec.body
            )
            if response.status_code >= 400:
                raise RuntimeError(f"{spec.method} {spec.path}: {response.status_code}")

        for _ in range(spec.warmup):
            await send()
        profiled.enabled = True
        deadline = time.monotonic() + spec.seconds
        sent = 0
        while sent < spec.requests and (sent < 100 or time.monotonic() < deadline):
            await send()
            sent += 1
    return summarise(pstats.Stats(profiler), profiled.wall, sent)


def summarise(stats: pstats.Stats, wall: float, requests: int) -> dict[str, Any]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]  # untyped in typeshed
    total = sum(entry[2] for entry in raw.values())  # own time of every frame
    wait = sum(entry[2] for (_, _, name), entry in raw.items() if name == WAIT_FRAME)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, name), entry in raw.items():
        by_package[package_of(filename, name)] += entry[2]
    frames = []
    for (filename, line, name), (_, calls, own, cumulative, _) in raw.items():
        where = f"{filename}:{line} {name}"
        if any(skip in where for skip in SKIP_CUMULATIVE) or name == WAIT_FRAME:
            continue
        frames.append(
            {
                "frame": short(filename, line, name),
                "package": package_of(filename, name),
                "calls": calls / requests,
                "own_us": own / requests * 1e6,
                "cumulative_us": cumulative / requests * 1e6,
            }
        )
    frames.sort(key=lambda frame: frame["cumulative_us"], reverse=True)
    return {
        "requests": requests,
        "wall_us": wall / requests * 1e6,
        "profiled_us": total / requests * 1e6,
        "wait_us": wait / requests * 1e6,
        "by_package": sorted(
            ({"package": k, "own_us": v / requests * 1e6} for k, v in by_package.items()),
            key=lambda row: row["own_us"],
            reverse=True,
        ),
        "frames": frames[:60],
    }


def main() -> None:
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as file:
        spec = Spec(**json.load(file))
    result = asyncio.run(profile(spec))
    with open(out_path, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()
