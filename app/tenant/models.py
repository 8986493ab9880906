"""The `tenants` table: the organisations that own every other row."""

from sqlalchemy import CheckConstraint, String, true
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import CreatedAt, Entity

# A DNS label, so a slug can also be a subdomain: 3-63 lowercase letters, digits and hyphens,
# not starting or ending with a hyphen.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"


class Tenant(CreatedAt, Entity):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(f"slug ~ '{SLUG_PATTERN}'", name="slug_format"),)

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
