"""Graceful shutdown of a real uvicorn process: SIGTERM while a request is in flight lets that
request finish with its full response, then the lifespan closes the pools and the process exits
within the graceful-shutdown timeout. Also: the lifespan's closing of the pools is bounded by
OPERATIONS__SHUTDOWN_TIMEOUT_SECONDS (app/main.py)."""

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import httpx
import pytest

import app.main
from app.core.config import Settings
from app.core.metrics import AppMetrics
from app.main import create_app
from tests.e2e.slow_app import SLOW_SECONDS, STARTED_EVENT, STARTUP_WARNING
from tests.fixtures.ports import unused_port
from tests.fixtures.server import (
    ProcessOutput,
    server_environment,
    uvicorn_process,
    wait_until_ready,
)
from tests.fixtures.settings import make_settings

GRACE_SECONDS = 10  # uvicorn --timeout-graceful-shutdown


@pytest.mark.usefixtures("engine")  # the database is migrated: /health/ready can answer 200
async def test_sigterm_lets_the_request_in_flight_finish(settings: Settings) -> None:
    port = unused_port()
    serving = uvicorn_process(
        "tests.e2e.slow_app:create",
        port,
        server_environment(settings),
        "--timeout-graceful-shutdown",
        str(GRACE_SECONDS),
    )
    async with serving as process:
        assert process.stdout is not None
        output = ProcessOutput(process.stdout)
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=GRACE_SECONDS) as client:
            await wait_until_ready(client)
            slow = asyncio.create_task(client.get("/slow"))
            async with asyncio.timeout(10):
                await output.wait_for(lambda line: line["event"] == STARTED_EVENT)

            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            response = await asyncio.wait_for(slow, GRACE_SECONDS)
            returncode = await asyncio.wait_for(process.wait(), GRACE_SECONDS + 5)
            exited_after = time.monotonic() - signalled
        await output.finish()

    assert response.status_code == 200
    assert response.json() == {"status": "done"}
    # uvicorn >= 0.29 re-raises the signal it handled once its shutdown is complete, so the exit
    # status is "terminated by SIGTERM" (143 in a shell). As PID 1 in a container, where the
    # kernel ignores that re-raised signal, the same shutdown exits 0. Anything else (1, 3, our
    # SIGKILL) would be a failed shutdown.
    assert returncode == -signal.SIGTERM
    assert exited_after < GRACE_SECONDS
    assert exited_after >= SLOW_SECONDS * 0.5  # it waited for /slow

    lines = output.lines()  # every line of the process's output is one JSON object
    events = [line["event"] for line in lines]
    assert "resources closed" in events  # app/core/resources.py: the lifespan closed the pools
    assert "Application shutdown complete." in events
    assert not [event for event in events if "timeout graceful shutdown exceeded" in event]
    [access] = [
        line for line in lines if line["logger"] == "app.access" and line["path"] == "/slow"
    ]
    assert (access["route"], access["status"]) == ("/slow", 200)
    assert access["duration_ms"] >= SLOW_SECONDS * 1000
    # The order of a graceful shutdown: the request finished, then the pools were closed.
    assert events.index("resources closed") > lines.index(access)
    # uvicorn's own lines and Python warnings have the shape of ours.
    assert {"uvicorn.error", "app.access", "app.core.resources", "py.warnings"} <= {
        line["logger"] for line in lines
    }
    assert any(STARTUP_WARNING in line["event"] for line in lines)


class TestClosingThePoolsIsBounded:
    async def test_a_hung_close_is_cut_off_at_the_shutdown_timeout(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        @asynccontextmanager
        async def resources_that_never_close(
            settings: Settings, metrics: AppMetrics, **options: object
        ) -> AsyncIterator[object]:
            yield SimpleNamespace(engine=None)
            await asyncio.sleep(60)  # a server that never answers the close

        async def nothing_to_verify(*args: object, **kwargs: object) -> None:
            return None

        # The lifespan has no dependency to override: swap what it opens, for this test only.
        monkeypatch.setattr(app.main, "open_resources", resources_that_never_close)
        monkeypatch.setattr(app.main, "verify_database_role", nothing_to_verify)
        application = create_app(make_settings(operations={"shutdown_timeout_seconds": 0.2}))

        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with application.router.lifespan_context(application):
                pass
        assert time.monotonic() - started < 2

    @pytest.mark.usefixtures("engine")
    async def test_a_normal_close_completes(self, caplog: pytest.LogCaptureFixture) -> None:
        application = create_app(make_settings(operations={"shutdown_timeout_seconds": 5}))
        with caplog.at_level(logging.INFO, logger="app.core.resources"):
            async with (
                application.router.lifespan_context(application),
                application.state.resources.engine.connect(),  # a connection for close to close
            ):
                pass
        assert "resources closed" in caplog.messages
