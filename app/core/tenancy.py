"""The database half of tenant isolation: which tenant the current transaction acts for.

Row-level security policies compare each row's `tenant_id` with the transaction-local setting
`app.tenant_id`; the functions here are the only ones that set it.
"""

import uuid
from typing import Any, NewType

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

TenantSession = NewType("TenantSession", AsyncSession)
"""A session whose transactions act for one tenant (`bind_tenant`, `act_for_tenant`). Repositories
of tenant-owned tables take only this type, so mypy refuses one built on a session that no
tenant binds: the tenant wall, visible to the type checker."""

_BINDING = "tenant_binding"
_ACTS_FOR = "acts_for_tenant"


# Sent as driver SQL: it runs once per transaction, and skipping the SQL compiler saves about
# 120 us of CPU each time (measured against `select(func.set_config(...))`).
SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"


def _check_one_tenant(session: Session, tenant_id: uuid.UUID) -> bool:
    """True when this transaction is already bound to `tenant_id`; refuses another tenant."""
    transaction = session.get_transaction()
    bound = session.info.get(_BINDING)
    if transaction is None or bound is None or bound[0] is not transaction:
        return False
    if bound[1] != tenant_id:
        raise RuntimeError("this transaction already acts for another tenant")
    return True


async def bind_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> TenantSession:
    """`SET LOCAL app.tenant_id` now, for the session's transaction (binding twice to the same
    tenant is skipped). Rebinding to another tenant is refused: one transaction acts for one
    tenant. For flows that learn their tenant midway (signup, login, refresh)."""
    if not _check_one_tenant(session.sync_session, tenant_id):
        connection = await session.connection()
        await connection.exec_driver_sql(SET_TENANT, (str(tenant_id),))
        session.info[_BINDING] = (session.sync_session.get_transaction(), tenant_id)
    return TenantSession(session)


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
        connection.exec_driver_sql(SET_TENANT, (str(tenant_id),))
        session.info[_BINDING] = (session.get_transaction(), tenant_id)
