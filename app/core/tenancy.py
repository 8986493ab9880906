"""The database half of tenant isolation: which tenant the current transaction acts for.

Row-level security policies compare each row's `tenant_id` with the transaction-local setting
`app.tenant_id`; this is the one function that sets it.
"""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def bind_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """`SET LOCAL app.tenant_id` for the session's transaction (a request's session is one
    transaction, so binding twice to the same tenant is skipped). Rebinding to another tenant
    is refused: one transaction acts for one tenant."""
    # Remembered per transaction: after a commit or rollback the setting is gone, and a session
    # used again (which a request's never is) must bind again.
    transaction = session.get_transaction()
    if transaction is not None and session.info.get("tenant_binding") == (transaction, tenant_id):
        return
    if transaction is not None and session.info.get("tenant_binding", (None,))[0] is transaction:
        raise RuntimeError("this transaction already acts for another tenant")
    await session.execute(select(func.set_config("app.tenant_id", str(tenant_id), True)))
    session.info["tenant_binding"] = (session.get_transaction(), tenant_id)
