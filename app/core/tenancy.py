"""The database half of tenant isolation: which tenant the current transaction acts for.

Row-level security policies compare each row's `tenant_id` with the transaction-local setting
`app.tenant_id`; the functions here are the only ones that set it (the read replica's first
statement, `app.core.replica`, sets it through `bind_read_session`).
"""

import uuid
from collections.abc import Sequence
from typing import Any, NewType, Protocol

from sqlalchemy import Executable, Result, ScalarResult, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

TenantSession = NewType("TenantSession", AsyncSession)
"""A session whose transactions act for one tenant (`bind_tenant`, `act_for_tenant`). Repositories
of tenant-owned tables take only this type, so mypy refuses one built on a session that no
tenant binds: the tenant wall, visible to the type checker."""


class TenantReadSession(Protocol):
    """A tenant-bound session for reads only (`ReadSessionDep`): on the read replica, or the
    request's own session when the primary serves the read. What it offers is what reading
    needs: no `add`, `delete`, `flush` or `commit`, so calling one is a mypy error. A statement
    that writes (`execute(insert(...))`) still type-checks, and fails in PostgreSQL instead:
    the transaction is READ ONLY. A `TenantSession` is one too (a write session can read); the
    reverse takes `TenantOwnedRepository.reading`, the one crossing, which a reviewer sees."""

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]: ...

    async def scalar(self, statement: Executable, params: Any = None) -> Any: ...

    async def scalars(self, statement: Executable, params: Any = None) -> ScalarResult[Any]: ...


_BINDING = "tenant_binding"
_ACTS_FOR = "acts_for_tenant"
_READ_ONLY = "read_only"


# Sent as driver SQL: it runs once per transaction, and skipping the SQL compiler saves about
# 120 us of CPU each time (measured against `select(func.set_config(...))`).
SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"
# The same statement for a read-only transaction: READ ONLY costs nothing more (SET TRANSACTION
# READ ONLY is this setting, and it may be turned on at any point of a transaction).
SET_TENANT_READ_ONLY = (
    "SELECT set_config('app.tenant_id', $1, true), set_config('transaction_read_only', 'on', true)"
)


def _check_one_tenant(session: Session, tenant_id: uuid.UUID) -> bool:
    """True when this transaction is already bound to `tenant_id`; refuses another tenant."""
    transaction = session.get_transaction()
    bound = session.info.get(_BINDING)
    if transaction is None or bound is None or bound[0] is not transaction:
        return False
    if bound[1] != tenant_id:
        raise RuntimeError("this transaction already acts for another tenant")
    return True


def _binding_statement(session: Session) -> str:
    return SET_TENANT_READ_ONLY if session.info.get(_READ_ONLY) else SET_TENANT


async def bind_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> TenantSession:
    """`SET LOCAL app.tenant_id` now, for the session's transaction (binding twice to the same
    tenant is skipped). Rebinding to another tenant is refused: one transaction acts for one
    tenant. For flows that learn their tenant midway (signup, login, refresh)."""
    if not _check_one_tenant(session.sync_session, tenant_id):
        connection = await session.connection()
        statement = _binding_statement(session.sync_session)
        await connection.exec_driver_sql(statement, (str(tenant_id),))
        session.info[_BINDING] = (session.sync_session.get_transaction(), tenant_id)
    return TenantSession(session)


def read_only(session: AsyncSession) -> None:
    """Make every transaction this session begins READ ONLY, in the statement that binds its
    tenant (no round trip more). For a request whose method is safe (GET, HEAD): its session is
    then the read session too, when the primary serves the reads (`get_read_session`).
    Call it before the session begins."""
    if session.in_transaction():
        raise RuntimeError("read_only() must come before the session's first statement")
    session.info[_READ_ONLY] = True


def as_read_session(session: TenantSession) -> TenantReadSession:
    """The request's own tenant-bound session, handed to reads (no replica serves them)."""
    return session


async def bind_read_session(
    session: AsyncSession, tenant_id: uuid.UUID, statement: str, *parameters: object
) -> tuple[TenantReadSession, Sequence[Any]]:
    """Begin `session`'s transaction with `statement`, whose first parameter is the tenant id
    and which must bind it and make the transaction READ ONLY (the replica's first statement
    also measures the replica: `app.core.replica`); the row it returned. One round trip, as
    the binding alone would be. Later transactions of the session bind as `act_for_tenant`'s."""
    connection = await session.connection()  # nothing sent yet: asyncpg begins on the first
    result = await connection.exec_driver_sql(statement, (str(tenant_id), *parameters))
    row = tuple(result.one())
    session.info[_BINDING] = (session.sync_session.get_transaction(), tenant_id)
    session.info[_ACTS_FOR] = tenant_id  # set after the begin, which would bind once more
    session.info[_READ_ONLY] = True
    return session, row


async def act_for_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> TenantSession:
    """Bind every transaction this session begins to `tenant_id`, as its first statement.

    Lazy: nothing is sent until the request runs its first query, so a request served from
    Redis alone never opens a transaction. The binding is transaction-local (`set_config(...,
    true)`), so it ends with the commit or rollback and a pooled connection keeps nothing.
    """
    session.info[_ACTS_FOR] = tenant_id
    if session.in_transaction():
        await bind_tenant(session, tenant_id)
    return TenantSession(session)


@event.listens_for(Session, "after_begin")
def _bind_on_begin(session: Session, transaction: SessionTransaction, connection: Any) -> None:
    """Registered once for every session (a per-session listener costs more than the check)."""
    tenant_id = session.info.get(_ACTS_FOR)
    if tenant_id is not None and not _check_one_tenant(session, tenant_id):
        connection.exec_driver_sql(_binding_statement(session), (str(tenant_id),))
        session.info[_BINDING] = (session.get_transaction(), tenant_id)
