"""The demo domain's routers: projects, their tasks, and the tenant's feature flags.

A worked example of a tenant-owned domain, kept apart so a project generated without the demo
deletes this module with app/project, app/task and app/flag (scripts/template/remove_demo.py)."""

from fastapi import APIRouter

from app.flag.router import router as flag_router
from app.project.router import router as project_router
from app.task.router import router as task_router

DEMO_ROUTERS: tuple[APIRouter, ...] = (project_router, task_router, flag_router)
