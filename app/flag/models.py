"""The `feature_flags` table: per-tenant switches."""

from sqlalchemy import String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import TenantOwned, Timestamps


class FeatureFlag(Timestamps, TenantOwned):
    __tablename__ = "feature_flags"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
