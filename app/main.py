"""The application factory. `app.main:app` is what uvicorn serves."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from app.api.problems import install_problem_handlers
from app.api.router import api_router
from app.core.config import Settings, load_settings
from app.core.logging import configure_logging
from app.core.resources import open_resources
from app.health.router import router as health_router


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the pools once for the process; close them when the server stops."""
    async with open_resources(app.state.settings) as resources:
        app.state.resources = resources
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    docs = settings.api.docs_enabled
    app = FastAPI(
        title=settings.app_name,
        version="0.1.0",
        summary="A FastAPI reference service: dependency injection done right.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    # Added last = outermost: the request id exists before anything else runs.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router)
    app.include_router(api_router)
    return app


app = create_app()
