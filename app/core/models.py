"""Declarative base with a constraint naming convention, and the column mixins tables share."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, MetaData, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Deterministic constraint names keep Alembic diffs stable and let repositories map a violated
# constraint to a domain error by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# eager_defaults: server-generated values (created_at, and updated_at's ON UPDATE now()) come
# back through RETURNING in the same statement, instead of an implicit lazy load later, which
# async SQLAlchemy cannot do (MissingGreenlet).
MAPPER_ARGS: dict[str, Any] = {"eager_defaults": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}
    __mapper_args__ = MAPPER_ARGS


class Entity(Base):
    """A table with a uuid primary key (generated in Python so it is known before the flush)."""

    __abstract__ = True

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()")
    )


class TenantOwned(Entity):
    """A row that belongs to one tenant: filtered by repositories and guarded by RLS."""

    __abstract__ = True

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Timestamps(CreatedAt):
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class OrderedTimestamps:
    """`Timestamps` for keyset-paginated tables: `clock_timestamp()` advances per row, where
    `now()` is the transaction's start, so rows created together still list in the order they
    were made. A table takes this or `Timestamps`, never both."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.clock_timestamp(), onupdate=func.clock_timestamp()
    )


class Versioned:
    """Optimistic concurrency: SQLAlchemy adds `AND version = :loaded` to every UPDATE and
    DELETE and bumps it, raising StaleDataError when another transaction got there first.
    The version is also the row's ETag."""

    version: Mapped[int] = mapped_column(default=1, server_default=text("1"))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - a declared_attr takes the class
        return {**MAPPER_ARGS, "version_id_col": cls.version}
