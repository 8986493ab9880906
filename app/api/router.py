"""Includes every domain router under /api/v1. The only place that does."""

from fastapi import APIRouter

from app.tenant.router import router as tenant_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(tenant_router)
