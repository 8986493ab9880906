"""Imports every model module so `Base.metadata` is complete for autogenerate and checks."""

from app.auth import models as auth_models
from app.core.models import Base
from app.flag import models as flag_models
from app.idempotency import models as idempotency_models
from app.identity import models as identity_models
from app.outbox import models as outbox_models
from app.project import models as project_models
from app.task import models as task_models

__all__ = [
    "Base",
    "auth_models",
    "flag_models",
    "idempotency_models",
    "identity_models",
    "outbox_models",
    "project_models",
    "task_models",
]
