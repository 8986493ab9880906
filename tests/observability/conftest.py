"""Helpers for the observability tests: apps built with chosen OPERATIONS__* settings, and log
output captured into a buffer (every line of which must be one JSON object)."""

import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from app.core.config import OperationsSettings, Settings
from app.core.db import SessionFactory
from app.core.logging import configure_logging
from app.main import create_app
from tests.fixtures.app import use_resources
from tests.fixtures.settings import make_settings

METRICS_TOKEN = "sample-scrape-token-0123456789"


class LogCapture:
    """Logging configured (as create_app does) but writing into a buffer."""

    def __init__(self, settings: Settings) -> None:
        self.buffer = io.StringIO()
        configure_logging(settings, stream=self.buffer)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every line, parsed: a line that is not a JSON object fails the test here."""
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def access_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "app.access"]


# The `capture_logs` fixture: call it (optionally with other settings) to start a capture.
CaptureLogs = Callable[..., LogCapture]


@pytest.fixture
def capture_logs(settings: Settings) -> Iterator[Callable[..., LogCapture]]:
    """Call it after building the apps a test needs (create_app configures logging again);
    logging goes back to stderr afterwards."""
    captures: list[LogCapture] = []

    def start(capture_settings: Settings | None = None) -> LogCapture:
        captures.append(LogCapture(capture_settings or settings))
        return captures[-1]

    yield start
    if captures:
        configure_logging(settings)


AppFactory = Callable[..., Awaitable[FastAPI]]


@pytest.fixture
async def make_app(session_factory: SessionFactory, redis: Redis) -> AsyncIterator[AppFactory]:
    """Apps from test settings with `OperationsSettings(**operations)`, each with its real
    lifespan, on the test's rolled-back connection (as the `app` fixture does)."""
    async with AsyncExitStack() as stack:

        async def make(**operations: Any) -> FastAPI:
            app = create_app(make_settings(operations=OperationsSettings(**operations)))
            await stack.enter_async_context(app.router.lifespan_context(app))
            use_resources(app, session_factory=session_factory)
            return app

        yield make


def client_for(app: FastAPI) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test")


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text, parsed: {(sample name, labels): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def sample(exposition: str, metric: str, **labels: str) -> float | None:
    return samples(exposition).get((metric, frozenset(labels.items())))
