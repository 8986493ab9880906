"""The application factory. `app.main:app` is what uvicorn serves."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from app.api.docs import install_docs
from app.api.idempotency import install_idempotency
from app.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from app.api.observability import ObservabilityMiddleware, install_metrics
from app.api.problems import install_problem_handlers
from app.api.router import api_router
from app.core.config import Settings, load_settings
from app.core.db import verify_database_role
from app.core.logging import configure_logging
from app.core.resources import open_resources
from app.health.router import router as health_router


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the pools once for the process; close them when the server stops."""
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        app.state.resources = await stack.enter_async_context(open_resources(settings))
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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings)
    docs = settings.api.resolved_docs_enabled(settings.app_env)
    app = FastAPI(
        title=settings.app_name,
        version="0.1.0",
        summary="A FastAPI reference service: dependency injection done right.",
        lifespan=lifespan,
        # /docs and /redoc are app/api/docs.py's pages, which serve their assets locally.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    install_idempotency(app)  # its recorder is the innermost middleware
    metrics = install_metrics(app, settings.operations)
    # Added last = outermost: the request id exists before anything else runs. The access log
    # and the HTTP metrics come next, so they see every request with its id: 413s included, and
    # the 500 RequestContextMiddleware renders for an exception that escaped.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router)
    app.include_router(api_router)
    if docs:
        install_docs(app, settings)
    return app


app = create_app()
