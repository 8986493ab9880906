"""The one base every repository builds on: it holds the session, flushes (never commits), and
turns a violated unique constraint into the domain error the subclass names for it."""

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import AppError
from app.core.models import Entity

ModelT = TypeVar("ModelT", bound=Entity)


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

    async def flush(self) -> None:
        try:
            await self.session.flush()
        except IntegrityError as error:
            domain_error = self.constraint_errors.get(violated_constraint(error) or "")
            if domain_error is None:
                raise
            raise domain_error() from error
