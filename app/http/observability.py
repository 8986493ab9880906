"""The HTTP side of observability: `ObservabilityMiddleware` (pure ASGI) writes one access-log
line and records the request metrics for every request, and with tracing on makes its span;
`/metrics` serves the metrics to Prometheus, open, behind a bearer token, or not at all
(OPERATIONS__METRICS_MODE). See docs/operations.md.
"""

import hmac
import logging
import time
from typing import Annotated, Any, cast

import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.routing import RouteContext, iter_route_contexts
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.pool import Pool
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import OperationsSettings
from app.core.context import tenant_id_var, user_id_var
from app.core.metrics import AppMetrics, method_label
from app.core.tracing import active_tracer
from app.http.deps import SettingsDep
from app.http.schemas import Text

access_log = structlog.get_logger("app.access")

UNMATCHED = "unmatched"


class RouteTemplates:
    """The full route template of the route that handled a request: `/api/v1/tenants/{id}`.

    Starlette puts the matched route in `scope["route"]`. FastAPI 0.165 keeps included routers
    nested, so that route is the one declared in its own router, and its `path_format` lacks the
    prefixes of the routers that include it (`/tenants/{id}`, without `/api/v1`). FastAPI's
    public `iter_route_contexts` yields each route with its effective, full path; this maps one
    to the other, built on the first miss and rebuilt when a route not seen before turns up.
    """

    def __init__(self) -> None:
        self._contexts: dict[int, tuple[BaseRoute, tuple[RouteContext, ...]]] = {}

    def template(self, scope: Scope) -> str:
        route: BaseRoute | None = scope.get("route")
        if route is None:  # no route matched: a 404, or a 413 refused before routing
            return UNMATCHED
        contexts = self._lookup(route, scope)
        if len(contexts) == 1:
            return contexts[0].path_format or UNMATCHED
        # The same route object included under several prefixes: the one whose path matched.
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        for context in contexts:
            if context.path_regex.match(path):
                return cast(str, context.path_format)
        return cast(str, getattr(route, "path_format", UNMATCHED))

    def _lookup(self, route: BaseRoute, scope: Scope) -> tuple[RouteContext, ...]:
        entry = self._contexts.get(id(route))
        if entry is None or entry[0] is not route:
            self._rebuild(scope["app"].routes)
            entry = self._contexts.get(id(route))
            if entry is None or entry[0] is not route:  # not one of the app's (a mounted app's)
                entry = (route, ())
                self._contexts[id(route)] = entry
        return entry[1]

    def _rebuild(self, routes: list[BaseRoute]) -> None:
        grouped: dict[int, tuple[BaseRoute, tuple[RouteContext, ...]]] = {}
        for context in iter_route_contexts(routes):
            original = context.original_route
            _, known = grouped.get(id(original), (original, ()))
            grouped[id(original)] = (original, (*known, context))
        self._contexts = grouped


class _Exchange:
    """What the middleware learns while the request runs."""

    __slots__ = ("responded", "status", "tenant_id", "user_id")

    def __init__(self) -> None:
        self.status = 500  # unless a response starts: an exception left without one becomes 500
        self.tenant_id: str | None = None
        self.user_id: str | None = None
        self.responded: float | None = None  # when the last body byte went out


class ObservabilityMiddleware:
    """One access-log line and the HTTP metrics per request. Sits inside RequestContextMiddleware
    (the request id is set, and the 500 it renders for an escaped exception is counted as one)
    and outside everything else, so 413s and 404s are seen too.

    With tracing on (app/core/tracing.py) the request is a server span, current while the app
    runs (the SQL and Redis spans are its children), named for the route template once it is
    known: `PATCH /api/v1/users/{user_id}`, with the status and the tenant. It starts a trace: a
    caller's `traceparent` header is not followed, so a client cannot choose trace ids or force
    sampling. Off, the cost is one global read.

    The duration (`duration_ms`, the latency histogram) ends with the last body byte.
    Background tasks run after it, inside this middleware's call: the line is written when they
    are done, and the in-flight gauge counts the request until then (the process is still
    working on it).
    """

    def __init__(self, app: ASGIApp, *, metrics: AppMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        method = method_label(scope["method"])
        exchange = _Exchange()

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                # Read now: the auth dependencies have run, and a yield dependency that resets
                # these on exit has not exited yet.
                exchange.tenant_id = tenant_id_var.get()
                exchange.user_id = user_id_var.get()
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                # The response is complete. Background tasks run after this, still inside the
                # call below: they must not count as the request's duration.
                exchange.responded = time.perf_counter()

        self.metrics.in_progress.started(id(scope), lambda: (method, self.routes.template(scope)))
        tracer = active_tracer()
        span = None if tracer is None else tracer.start_span("HTTP", kind=SpanKind.SERVER)
        entered = None if span is None else otel_context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send_observed)
        except BaseException as error:
            if span is not None:
                span.record_exception(error)
            raise
        finally:
            ended = exchange.responded
            if ended is None:  # no complete response (an exception, a disconnect): now
                ended = time.perf_counter()
            # Inside the span: the access line carries its trace id.
            route = self._record(scope, method, exchange, ended - started)
            if span is not None and entered is not None:
                otel_context.detach(entered)
                _end_request_span(span, scope["method"], route, exchange)

    def _record(self, scope: Scope, method: str, exchange: _Exchange, seconds: float) -> str:
        route = self.routes.template(scope)
        self.metrics.in_progress.finished(id(scope), (method, route))
        self.metrics.observe_request(method, route, exchange.status, seconds)
        client = scope.get("client")
        # Never the query string, the headers or the body: they are where secrets travel.
        access_log.log(
            logging.ERROR if exchange.status >= 500 else logging.INFO,
            "request",
            method=scope["method"],
            route=route,
            path=scope["path"],
            status=exchange.status,
            duration_ms=round(seconds * 1000, 2),
            client=client[0] if client else None,
            tenant_id=exchange.tenant_id or tenant_id_var.get(),
            user_id=exchange.user_id or user_id_var.get(),
        )
        return route


def _end_request_span(span: Span, method: str, route: str, exchange: _Exchange) -> None:
    """Name the request's span for its route template (low cardinality, as OpenTelemetry's HTTP
    conventions ask), give it the status and the tenant, and end it. Never the path's ids, the
    query string, the headers or the body."""
    span.update_name(f"{method} {route}")
    span.set_attribute("http.request.method", method)
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", exchange.status)
    tenant_id = exchange.tenant_id or tenant_id_var.get()
    if tenant_id is not None:
        span.set_attribute("tenant.id", str(tenant_id))
    if exchange.status >= 500:
        span.set_status(StatusCode.ERROR)
    span.end()


async def require_metrics_access(
    settings: SettingsDep, authorization: Annotated[Text | None, Header()] = None
) -> None:
    """In `bearer` mode, /metrics answers only `Authorization: Bearer <token>`, the token being
    OPERATIONS__METRICS_TOKEN; in `open` mode it answers everyone."""
    operations = settings.operations
    if operations.metrics_mode != "bearer":
        return
    scheme, _, presented = (authorization or "").partition(" ")
    expected = operations.metrics_token.get_secret_value() if operations.metrics_token else ""
    valid = scheme.lower() == "bearer" and bool(expected)
    # compare_digest: the time taken must not tell how much of a guessed token was right.
    if not (hmac.compare_digest(presented.strip().encode(), expected.encode()) and valid):
        raise HTTPException(
            status_code=401,
            detail="A valid bearer token is required for /metrics.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


MetricsAccessDep = Annotated[None, Depends(require_metrics_access)]


async def get_metrics(request: Request) -> AppMetrics:
    return cast(AppMetrics, request.app.state.metrics)


MetricsDep = Annotated[AppMetrics, Depends(get_metrics)]

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(_: MetricsAccessDep, app_metrics: MetricsDep) -> Response:
    """This process's metrics in the Prometheus text format."""
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, settings: OperationsSettings) -> AppMetrics:
    """Give `app` its own registry (on `app.state.metrics`) and serve /metrics, unless the mode
    is `disabled`: then the route does not exist and /metrics is the ordinary 404."""

    def engine_pool() -> Pool | None:
        resources: Any = getattr(app.state, "resources", None)  # set by the lifespan
        return cast(Pool, resources.engine.pool) if resources is not None else None

    app_metrics = AppMetrics(pool=engine_pool)
    app.state.metrics = app_metrics
    if settings.metrics_mode != "disabled":
        app.include_router(router)
    return app_metrics
