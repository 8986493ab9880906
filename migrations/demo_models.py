"""The demo domain's models (projects, tasks, feature flags), imported by migrations/models.py;
deleted with the demo (scripts/template/remove_demo.py)."""

from app.flag import models as flag_models
from app.project import models as project_models
from app.task import models as task_models

__all__ = ["flag_models", "project_models", "task_models"]
