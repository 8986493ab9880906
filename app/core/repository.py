"""The one base every repository builds on: it holds the session, flushes (never commits), and
turns a violated unique constraint into the domain error the subclass names for it."""

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.core.concurrency import StaleVersionError
from app.core.db import AfterCommit, after_commit
from app.core.errors import AppError
from app.core.models import Entity, TenantOwned

ModelT = TypeVar("ModelT", bound=Entity)
OwnedT = TypeVar("OwnedT", bound=TenantOwned)


def violated_constraint(error: IntegrityError) -> str | None:
    """The constraint name PostgreSQL reported (asyncpg keeps it on the original exception)."""
    cause: Any = error.orig.__cause__ if error.orig is not None else None
    name = getattr(cause, "constraint_name", None)
    return name if isinstance(name, str) else None


class Repository(Generic[ModelT]):
    model: type[ModelT]
    # Constraint name -> domain error raised when a flush violates it.
    constraint_errors: ClassVar[Mapping[str, type[AppError]]] = {}

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _select(self) -> Select[ModelT]:
        return select(self.model)

    async def get(self, id_: uuid.UUID) -> ModelT | None:
        return await self.session.scalar(self._select().where(self.model.id == id_))

    async def add(self, obj: ModelT) -> ModelT:
        self.session.add(obj)
        await self.flush()
        return obj

    async def delete(self, obj: ModelT) -> None:
        await self.session.delete(obj)
        await self.flush()

    def after_commit(self, callback: AfterCommit) -> None:
        """Schedule a side effect (cache invalidation, an event) for after the commit."""
        after_commit(self.session, callback)

    async def flush(self) -> None:
        try:
            await self.session.flush()
        except StaleDataError as error:
            # Another transaction updated or deleted the row after we read it (the versioned
            # UPDATE matched no row): the lost update is refused, not silently applied.
            raise StaleVersionError from error
        except IntegrityError as error:
            domain_error = self.constraint_errors.get(violated_constraint(error) or "")
            if domain_error is None:
                raise
            raise domain_error() from error


class TenantScopedRepository(Repository[OwnedT]):
    """For tenant-owned tables: every statement starts from `_select()`, which filters by the
    tenant given at construction, and `add` stamps that tenant on new rows. Row-level security
    checks the same thing again in PostgreSQL; this is the first wall, that is the second."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        super().__init__(session)
        self.tenant_id = tenant_id

    def _select(self) -> Select[OwnedT]:
        return select(self.model).where(self.model.tenant_id == self.tenant_id)

    async def add(self, obj: OwnedT) -> OwnedT:
        obj.tenant_id = self.tenant_id
        return await super().add(obj)
