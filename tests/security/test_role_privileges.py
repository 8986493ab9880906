"""The application role holds only the privileges the code needs (issue 10, item 9).

`tenants` has no row-level security (a tenant is looked up before one is known), and every
tenant-owned table references it `ON DELETE CASCADE`. A role that could delete a tenant row would
therefore delete another tenant's users and every row they own beneath the policies; one that could
update it could re-key a tenant (change its id or slug) or deactivate it. The API only reads
tenants and inserts them at signup, so the role gets SELECT and INSERT, nothing more. Deleting or
deactivating a tenant is an operator's job, done as the owner.

These run as the application role, exactly as the API connects (the `session_factory` fixture).
"""

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from tests.fixtures.auth import Org

FORBIDDEN_ON_TENANTS = {
    "delete": "DELETE FROM tenants WHERE id = :id",
    "rekey_id": "UPDATE tenants SET id = gen_random_uuid() WHERE id = :id",
    "rekey_slug": "UPDATE tenants SET slug = 'taken-over' WHERE id = :id",
    "deactivate": "UPDATE tenants SET is_active = false WHERE id = :id",
    "truncate": "TRUNCATE tenants CASCADE",
}


@pytest.mark.parametrize("statement", FORBIDDEN_ON_TENANTS.values(), ids=FORBIDDEN_ON_TENANTS)
async def test_item9_the_app_role_cannot_delete_or_rekey_a_tenant(
    acme: Org, globex: Org, session_factory: SessionFactory, statement: str
) -> None:
    # Acting for acme, the worst a compromised request could do: aim at globex's tenant row.
    async with session_factory() as session:
        await bind_tenant(session, acme.tenant.id)
        with pytest.raises(DBAPIError, match="permission denied for table tenants"):
            await session.execute(text(statement), {"id": globex.tenant.id})

    async with session_factory() as session:
        row = (
            await session.execute(
                text("SELECT id, slug, is_active FROM tenants WHERE id = :id"),
                {"id": globex.tenant.id},
            )
        ).one()
        assert tuple(row) == (globex.tenant.id, "globex", True)
        await bind_tenant(session, globex.tenant.id)
        users = await session.scalar(text("SELECT count(*) FROM users"))
        assert users == 4  # nothing cascaded away


async def test_the_app_role_can_still_read_and_create_tenants(
    session_factory: SessionFactory,
) -> None:
    """What the API does with tenants (signup inserts, every request reads) still works."""
    tenant_id = uuid.uuid4()
    async with session_factory() as session:
        await session.execute(
            text("INSERT INTO tenants (id, slug, name) VALUES (:id, 'fresh-tenant', 'Fresh')"),
            {"id": tenant_id},
        )
        slug = await session.scalar(
            text("SELECT slug FROM tenants WHERE id = :id"), {"id": tenant_id}
        )
        assert slug == "fresh-tenant"
