"""Imports every model module so `Base.metadata` is complete for autogenerate and checks."""

from app.auth import models as auth_models
from app.core.models import Base
from app.idempotency import models as idempotency_models
from app.identity import models as identity_models
from app.outbox import models as outbox_models

# demo:begin
# isort: split
from migrations import demo_models  # noqa: F401 - the demo's tables join Base.metadata

# demo:end

__all__ = [
    "Base",
    "auth_models",
    "idempotency_models",
    "identity_models",
    "outbox_models",
]
