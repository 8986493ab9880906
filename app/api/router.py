"""Includes every domain router under /api/v1. The only place that does."""

from fastapi import APIRouter, FastAPI

from app.auth.router import router as auth_router
from app.tenant.router import router as tenant_router
from app.user.router import router as user_router

# demo:begin
# isort: split
from app.api.demo import DEMO_ROUTERS

# demo:end

API_PREFIX = "/api/v1"
DOMAIN_ROUTERS: tuple[APIRouter, ...] = (
    tenant_router,
    auth_router,
    user_router,
    # demo:begin
    *DEMO_ROUTERS,
    # demo:end
)


def include_api(app: FastAPI) -> None:
    """Every domain router, directly under /api/v1 (one level of routers, not two: FastAPI
    matches nested routers at request time, and each level costs every request)."""
    for router in DOMAIN_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
