"""OpenTelemetry traces, off unless TRACING__OTLP_ENDPOINT is set (docs/operations.md, "Traces").

`open_tracing` is the process-wide part, opened and closed by `open_resources`: a tracer
provider exporting over OTLP/HTTP, the maintained instrumentations of asyncpg (a span per SQL
statement, whatever engine sends it; its parameters are not recorded) and of the process's Redis
client (a span per command or pipeline), and the tracer the app's own spans use
(`active_tracer`). Off, none of it exists: no provider, nothing instrumented, and the code that
would make a span checks `active_tracer()` (one global read) and goes on.

OpenTelemetry's global tracer provider can be set once per process and never unset; the tracer
is kept here instead, set when tracing opens and cleared when it closes, so a process (or a test)
can open and close it again.

Across the outbox, a trace travels as a W3C `traceparent` string (`current_traceparent` when an
event is recorded, `parent_context` when the worker relays it), so the relay's span joins the
trace of the request that recorded the event.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from redis.asyncio import Redis

from app.core.config import TracingSettings

# The SDK, the exporter (and `requests` under it) and the instrumentations are imported when
# tracing opens: a process with tracing off never loads them. The API above is small.
if TYPE_CHECKING:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

TRACER_NAME = "app"
_PROPAGATOR = TraceContextTextMapPropagator()
_active: Tracer | None = None


def _asyncpg_instrumentor() -> "AsyncPGInstrumentor":
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    # A singleton: every call answers the same instrumentor. Its __init__ is not annotated.
    return AsyncPGInstrumentor()  # type: ignore[no-untyped-call]  # see above


def sql_instrumented() -> bool:
    """Whether asyncpg's classes are patched now (tests check that closing undoes it)."""
    return bool(_asyncpg_instrumentor().is_instrumented_by_opentelemetry)


def active_tracer() -> Tracer | None:
    """The process's tracer while tracing is open, None otherwise (and then no span is made)."""
    return _active


@dataclass(frozen=True, slots=True)
class Tracing:
    provider: "TracerProvider"
    tracer: Tracer


@contextmanager
def open_tracing(
    settings: TracingSettings,
    *,
    component: str,
    redis: Redis,
    span_processor: "SpanProcessor | None" = None,
) -> Iterator[Tracing | None]:
    """Tracing for this process while the block runs; None (and nothing done) when it is off.

    `component` names the process (`api`, `worker`): the spans' service.name is
    `<TRACING__SERVICE_NAME>-<component>`. `span_processor` replaces the OTLP exporter (tests
    pass a SimpleSpanProcessor over an in-memory exporter) and turns tracing on by itself. On
    exit the instrumentation is removed and the provider shut down, which exports what is left.
    """
    global _active  # the process's tracer, as OpenTelemetry's global provider would be
    url = settings.traces_url()
    if span_processor is None and url is None:
        yield None
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    if span_processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        span_processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=url))
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"{settings.service_name}-{component}"}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    provider.add_span_processor(span_processor)
    # asyncpg's classes are patched: every connection of the process is traced (the engine's,
    # and any other engine's), which is what a process-wide provider means.
    sql = _asyncpg_instrumentor()
    sql.instrument(tracer_provider=provider)
    RedisInstrumentor.instrument_client(redis, tracer_provider=provider)
    previous, _active = _active, provider.get_tracer(TRACER_NAME)
    try:
        yield Tracing(provider, _active)
    finally:
        _active = previous
        RedisInstrumentor.uninstrument_client(redis)
        sql.uninstrument()
        provider.shutdown()


@contextmanager
def span(name: str) -> Iterator[None]:
    """A span of the app's own around the block while tracing is on (the worker's pass, so its
    polling statements make one trace per pass rather than one each); nothing otherwise."""
    if _active is None:
        yield
        return
    with _active.start_as_current_span(name):
        yield


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, for a record that outlives it (an outbox
    row); None when tracing is off or no span is current."""
    if _active is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def parent_context(traceparent: str | None) -> Context | None:
    """The context a stored `traceparent` names, for a span that continues its trace; None
    without one (the span then belongs to the current one: the worker's pass)."""
    if traceparent is None:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


def log_ids() -> dict[str, str]:
    """`trace_id` and `span_id` of the current span for a log line; empty when tracing is off
    or no span is current."""
    if _active is None:
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
