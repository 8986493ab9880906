"""Imports every model module so `Base.metadata` is complete for autogenerate and checks."""

from app.core.models import Base
from app.tenant import models as tenant_models
from app.user import models as user_models

__all__ = ["Base", "tenant_models", "user_models"]
