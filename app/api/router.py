"""Includes every domain router under /api/v1. The only place that does."""

from fastapi import APIRouter

from app.auth.router import router as auth_router
from app.flag.router import router as flag_router
from app.project.router import router as project_router
from app.task.router import router as task_router
from app.tenant.router import router as tenant_router
from app.user.router import router as user_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(tenant_router)
api_router.include_router(auth_router)
api_router.include_router(user_router)
api_router.include_router(project_router)
api_router.include_router(task_router)
api_router.include_router(flag_router)
