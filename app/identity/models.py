"""Who exists: the `tenants` table (the organisations that own every other row) and the `users`
table (people who belong to exactly one tenant), with the roles a user can hold."""

import enum

from sqlalchemy import CheckConstraint, Enum, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import CreatedAt, Entity, TenantOwned, Timestamps

# A DNS label, so a slug can also be a subdomain: 3-63 lowercase letters, digits and hyphens,
# not starting or ending with a hyphen.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"


class Tenant(CreatedAt, Entity):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(f"slug ~ '{SLUG_PATTERN}'", name="slug_format"),)

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())


class Role(enum.StrEnum):
    """Highest first. Viewers read; members write; admins manage users and settings; owners
    admins."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: "Role") -> bool:
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class User(Timestamps, TenantOwned):
    __tablename__ = "users"
    __table_args__ = (
        # Emails are stored lower-cased (the check enforces it), so this plain unique constraint
        # is case-insensitive uniqueness per tenant. It leads with tenant_id, so it also serves
        # as the tenant_id index.
        UniqueConstraint("tenant_id", "email"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="user_role", values_callable=lambda roles: [r.value for r in roles])
    )
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
