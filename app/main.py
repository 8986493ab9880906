"""The application factory: `uvicorn --factory app.main:create_app` serves it. Nothing is built
at import time, so importing this module reads no `.env` and configures no logging."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from app.api.docs import install_docs
from app.api.router import include_api
from app.core.config import Settings, load_settings
from app.core.db import verify_database_role
from app.core.logging import configure_logging
from app.core.resources import open_resources
from app.health.router import router as health_router
from app.http.cors import install_cors
from app.http.hosts import HostCheckMiddleware
from app.http.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from app.http.observability import ObservabilityMiddleware, install_metrics
from app.http.openapi import install_openapi, operation_id
from app.http.problems import install_problem_handlers
from app.http.security_headers import SecurityHeadersMiddleware
from app.idempotency.dependencies import install_idempotency

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor

# Answered whatever the Host: probes and scrapes name the container by address, and these answers
# do not depend on the name (app/http/hosts.py).
PROBE_PATHS = ("/health/live", "/health/ready", "/metrics")


class DebugOutsideDevelopmentError(RuntimeError):
    """`app.debug` is on in an environment other than development."""


def refuse_debug_outside_development(app: FastAPI, settings: Settings) -> None:
    """Starlette's debug 500 page shows the traceback of any exception that reaches its
    `ServerErrorMiddleware`: the exception's message, file paths and the source around every
    frame (docs/dependency-injection.md, "Debug mode"). `create_app` never turns it on; this
    refuses a process where something else did (`app.debug = True`), before it serves anything.
    """
    if app.debug and settings.app_env != "development":
        raise DebugOutsideDevelopmentError(
            f"debug=True is refused when APP_ENV={settings.app_env}: its error pages show "
            "source code and exception messages to any client."
        )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the pools once for the process; close them when the server stops."""
    settings: Settings = app.state.settings
    refuse_debug_outside_development(app, settings)  # read here: it can be set after create_app
    async with AsyncExitStack() as stack:
        app.state.resources = await stack.enter_async_context(
            open_resources(
                settings,
                app.state.metrics,
                component="api",
                span_processor=app.state.span_processor,
            )
        )
        # Here, not in open_resources: the CLI legitimately connects as the tables' owner.
        await verify_database_role(
            app.state.resources.engine,
            refuse=not settings.is_development,
            wait_seconds=settings.database.connect_timeout_seconds
            + settings.health.check_timeout_seconds,
        )
        yield
        # uvicorn waits for the lifespan's shutdown without a limit: bound the closing of the
        # pools, so a hung server cannot hold the process past the orchestrator's grace period.
        async with asyncio.timeout(settings.operations.shutdown_timeout_seconds):
            await stack.aclose()


def create_app(
    settings: Settings | None = None, *, span_processor: "SpanProcessor | None" = None
) -> FastAPI:
    """The app, built from `settings` (default: the environment). `span_processor` receives
    the spans instead of the OTLP exporter, and turns tracing on (tests pass an in-memory one).
    """
    settings = settings or load_settings()
    configure_logging(settings)
    docs = settings.api.resolved_docs_enabled(settings.app_env)
    app = FastAPI(
        title=settings.app_name,
        debug=False,  # never from settings: see refuse_debug_outside_development
        version="0.1.0",
        summary="A FastAPI reference service: dependency injection done right.",
        lifespan=lifespan,
        # /docs and /redoc are app/api/docs.py's pages, which serve their assets locally.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.span_processor = span_processor
    install_openapi(app)
    install_problem_handlers(app)
    install_idempotency(app)  # its recorder is the innermost middleware
    metrics = install_metrics(app, settings.operations)
    # Added last = outermost. The security headers wrap everything, so every answer has them,
    # the last-resort 500 included. Then the request id exists before anything else runs. The
    # access log and the HTTP metrics come next, so they see every request with its id: refused
    # hosts, CORS preflights and 413s included, and the 500 RequestContextMiddleware renders for
    # an exception that escaped. CORS wraps the body limit, so a browser can read a 413.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    install_cors(app, settings.http.cors_origins)
    app.add_middleware(
        HostCheckMiddleware,
        allowed_hosts=settings.http.resolved_allowed_hosts(settings.app_env),
        unchecked_paths=PROBE_PATHS,
    )
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, hsts_max_age_seconds=settings.http.hsts_max_age())
    app.include_router(health_router)
    include_api(app)
    if docs:
        install_docs(app, settings)
    return app
