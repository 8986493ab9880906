"""Traces (app/core/tracing.py): one POST that adds a user is one trace holding the request's
span, its SQL spans, the outbox record of its `user.created` event and the worker's relay of the
event; log lines carry the trace id when tracing is on; with tracing off nothing is
instrumented.

The traced app is the real one (`create_app` with an in-memory span processor, its own lifespan
and engine) on a database of its own: the SQL spans come from the instrumented engine, so its
requests must commit on that engine rather than on the suite's rolled-back connection. The relay
is the worker's own pass (`Worker.pass_once`) over the app's resources, connected as the worker's
login role (`as_worker`).
"""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import NullPool, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.db import SessionFactory
from app.core.metrics import AppMetrics
from app.core.resources import Resources
from app.core.tracing import active_tracer, sql_instrumented
from app.identity.models import Role, Tenant, User
from app.main import create_app
from app.worker.heartbeat import Heartbeat
from app.worker.loop import Worker
from app.worker.metrics import WorkerMetrics
from tests.fixtures.auth import Actor, Org, mint_token
from tests.fixtures.database import fresh_database
from tests.fixtures.outbox import as_worker, recorded
from tests.fixtures.paths import USERS
from tests.observability.conftest import CaptureLogs, client_for

SQL_SCOPE = "opentelemetry.instrumentation.asyncpg"
REDIS_SCOPE = "opentelemetry.instrumentation.redis"
USERS_ROUTE = "/api/v1/users"


@dataclass
class Traced:
    app: FastAPI
    spans: InMemorySpanExporter
    admin: Actor

    @property
    def resources(self) -> Resources:
        resources: Resources = self.app.state.resources
        return resources

    async def create_user(self) -> uuid.UUID:
        """POST /api/v1/users as the admin: a new member, and its `user.created` event."""
        async with client_for(self.app) as client:
            response = await client.post(USERS, json=new_member(), headers=self.admin.headers)
        assert response.status_code == 201, response.text
        return uuid.UUID(response.json()["id"])


def new_member() -> dict[str, str]:
    return {
        "email": f"member-{uuid.uuid4().hex[:12]}@traced.example.com",
        "password": "a long enough password",
        "full_name": "Traced Member",
        "role": "member",
    }


@pytest.fixture(scope="module")
async def tracing_database(settings: Settings) -> Settings:
    return await fresh_database(settings, "tracing")


@pytest.fixture
async def traced(tracing_database: Settings) -> AsyncIterator[Traced]:
    """The app with tracing on, and a committed tenant with an admin."""
    exporter = InMemorySpanExporter()
    app = create_app(tracing_database, span_processor=SimpleSpanProcessor(exporter))
    owner = create_async_engine(tracing_database.database.owner_url, poolclass=NullPool)
    tenant = Tenant(id=uuid.uuid4(), slug=f"traced-{uuid.uuid4().hex[:12]}", name="Traced")
    admin = User(id=uuid.uuid4(), tenant_id=tenant.id, role=Role.ADMIN, email="admin@traced.test")
    async with owner.begin() as connection:
        await connection.execute(text("DELETE FROM tenants"))  # and the previous test's rows
        await connection.execute(
            text("INSERT INTO tenants (id, slug, name) VALUES (:id, :slug, 'Traced')"),
            {"id": tenant.id, "slug": tenant.slug},
        )
        await connection.execute(
            text(
                "INSERT INTO users (id, tenant_id, email, password_hash, full_name, role) "
                "VALUES (:id, :tenant, :email, 'not-a-hash', 'Tracer', 'admin')"
            ),
            {"id": admin.id, "tenant": tenant.id, "email": admin.email},
        )
    await owner.dispose()
    async with app.router.lifespan_context(app):
        yield Traced(app, exporter, mint_token(app, admin, tenant))
    assert active_tracer() is None  # closed with the lifespan


def the_one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [span for span in spans if span.name == name]
    return span


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def scope_name(span: ReadableSpan) -> str | None:
    scope = span.instrumentation_scope
    return scope.name if scope is not None else None


def statements(spans: Sequence[ReadableSpan]) -> list[str]:
    found = []
    for span in spans:
        if scope_name(span) == SQL_SCOPE:
            statement = (span.attributes or {}).get("db.statement") or (span.attributes or {}).get(
                "db.query.text"
            )
            found.append(str(statement))
    return found


async def test_a_created_user_is_one_trace_from_the_request_to_the_workers_relay(
    traced: Traced, tmp_path: Path
) -> None:
    traced.spans.clear()

    await traced.create_user()
    during_request = traced.spans.get_finished_spans()
    async with as_worker(traced.resources) as resources:
        worker = Worker(
            resources, metrics=WorkerMetrics(AppMetrics()), heartbeat=Heartbeat(tmp_path / "beat")
        )
        assert await worker.pass_once() is not None  # the worker's own pass, as it runs
    spans = traced.spans.get_finished_spans()

    # Everything the request did is one trace, under its server span.
    request = the_one(during_request, f"POST {USERS_ROUTE}")
    trace_id = request.context.trace_id
    assert {span.context.trace_id for span in during_request} == {trace_id}
    assert request.kind is SpanKind.SERVER
    assert request.parent is None  # it starts the trace
    assert dict(request.attributes or {}) == {
        "http.request.method": "POST",
        "http.route": USERS_ROUTE,
        "http.response.status_code": 201,
        "tenant.id": str(traced.admin.tenant.id),
    }
    sql = statements(during_request)
    assert any(statement.startswith("INSERT INTO users") for statement in sql), sql
    assert any(statement.startswith("INSERT INTO outbox") for statement in sql), sql

    # The event's recording is a span of the request; the worker's relay, its child.
    record = the_one(during_request, "outbox.record")
    assert (record.context.trace_id, parent_id(record)) == (trace_id, request.context.span_id)
    assert (record.attributes or {})["event.type"] == "user.created"
    [relay] = [
        span for span in spans if span.name == "outbox.relay" and span.context.trace_id == trace_id
    ]
    assert relay.kind is SpanKind.PRODUCER
    assert parent_id(relay) == record.context.span_id
    assert (relay.attributes or {})["event.id"] == (record.attributes or {})["event.id"]
    # The publish's Redis command is in the trace too, under the relay's span.
    assert any(
        scope_name(span) == REDIS_SCOPE and parent_id(span) == relay.context.span_id
        for span in spans
    )
    # The worker's own statements (the claim, the backlog) are one trace of its pass, apart.
    worker_pass = the_one(spans, "worker.pass")
    assert worker_pass.context.trace_id != trace_id
    in_pass = [span for span in spans if span.context.trace_id == worker_pass.context.trace_id]
    assert any("outbox_claim" in statement for statement in statements(in_pass))
    assert any("outbox_backlog" in statement for statement in statements(in_pass))


async def test_log_lines_carry_the_trace_id_when_tracing_is_on(
    traced: Traced, capture_logs: CaptureLogs
) -> None:
    logs = capture_logs(traced.resources.settings)
    traced.spans.clear()

    await traced.create_user()

    request = the_one(traced.spans.get_finished_spans(), f"POST {USERS_ROUTE}")
    [line] = logs.access_lines()
    assert line["trace_id"] == f"{request.context.trace_id:032x}"
    assert line["span_id"] == f"{request.context.span_id:016x}"


def assert_nothing_instrumented(resources: Resources) -> None:
    assert resources.tracing is None
    assert active_tracer() is None
    assert not sql_instrumented()
    # What RedisInstrumentor.instrument_client marks a client with.
    assert not getattr(resources.redis, "_is_instrumented_by_opentelemetry", False)


async def test_with_tracing_off_nothing_is_instrumented_and_lines_carry_no_trace_id(
    app: FastAPI,
    acme: Org,
    session_factory: SessionFactory,
    capture_logs: CaptureLogs,
) -> None:
    resources: Resources = app.state.resources
    assert resources.settings.tracing.otlp_endpoint is None
    assert_nothing_instrumented(resources)
    logs = capture_logs()

    async with client_for(app) as client:
        response = await client.post(USERS, json=new_member(), headers=acme.admin.headers)
    assert response.status_code == 201, response.text

    [line] = logs.access_lines()
    assert "trace_id" not in line
    assert "span_id" not in line
    [event] = [
        row
        for row in await recorded(session_factory, acme.tenant.id)
        if row.data.get("user_id") == response.json()["id"]
    ]
    assert event.traceparent is None


async def test_closing_a_traced_app_removes_its_instrumentation(
    tracing_database: Settings,
) -> None:
    """OpenTelemetry's instrumentors patch asyncpg's classes: closing the app must undo it, or
    every later test's statements would still be traced."""
    exporter = InMemorySpanExporter()
    app = create_app(tracing_database, span_processor=SimpleSpanProcessor(exporter))
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        assert resources.tracing is not None
        assert sql_instrumented()
        assert getattr(resources.redis, "_is_instrumented_by_opentelemetry", False)
        async with resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        assert "SELECT 1" in statements(exporter.get_finished_spans())

    assert active_tracer() is None
    assert not sql_instrumented()
    exporter.clear()
    engine = create_async_engine(tracing_database.database.owner_url, poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    await engine.dispose()
    assert exporter.get_finished_spans() == ()
