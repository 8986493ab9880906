"""The second wall: PostgreSQL row-level security. Deliberately unfiltered SELECTs through a
tenant-bound session see only that tenant's rows, and the application's role can neither
bypass the policies nor own the tables."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionFactory
from app.core.events import DomainEvent
from app.core.models import Base, TenantOwned
from app.core.tenancy import bind_tenant
from app.idempotency.repository import IdempotencyKeyRepository
from app.outbox.repository import OutboxRepository
from tests.fixtures.auth import PASSWORD, Org
from tests.fixtures.seeds import seeds

TENANT_OWNED = sorted(
    mapper.class_.__tablename__
    for mapper in Base.registry.mappers
    if issubclass(mapper.class_, TenantOwned)
)
SEEDS = seeds()  # the generated domains, which bring their own rows


@pytest.fixture
async def populated(
    client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
) -> tuple[Org, Org]:
    """Rows for both tenants in every tenant-owned table: the orgs bring users; a login adds
    refresh tokens; the recorder and the key store add an outbox row and an idempotency key;
    each generated domain's `SEED` adds one of its rows (and the demo's routes add the demo's)."""
    for org in (acme, globex):
        for seed in SEEDS:
            await seed.create(session_factory, org.tenant)
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": org.member.user.email, "password": PASSWORD},
            headers={"X-Tenant": org.tenant.slug},
        )
        assert response.status_code == 200
        async with session_factory() as session:
            bound = await bind_tenant(session, org.tenant.id)
            await OutboxRepository(bound, org.tenant.id).record(
                DomainEvent(type="rls.checked", tenant_id=org.tenant.id, data={})
            )
            await IdempotencyKeyRepository(bound, org.tenant.id).claim(
                "rls", "fingerprint", ttl_seconds=60
            )
            await session.commit()
        # demo:begin
        flag = await client.put(
            "/api/v1/flags/bulk_tasks", json={"enabled": True}, headers=org.admin.headers
        )
        assert flag.status_code == 200
        keyed = await client.post(
            "/api/v1/projects",
            json={"name": "Keyed"},
            headers={**org.member.headers, "Idempotency-Key": "rls"},
        )
        assert keyed.status_code == 201
        # demo:end
    return acme, globex


async def tenants_visible(session: AsyncSession, table: str) -> set[str]:
    # Unfiltered on purpose: no WHERE tenant_id, only the policy stands in the way.
    rows = await session.execute(text(f"SELECT DISTINCT tenant_id::text FROM {table}"))
    return {row[0] for row in rows}


def test_every_tenant_owned_table_is_covered() -> None:
    """A new tenant-owned table fails here first: give it rows for both tenants in `populated`
    (or the proofs below would pass on an empty table), then add it to this list. A generated
    domain's table is covered by its `SEED`."""
    hand_written = [
        "idempotency_keys",
        "outbox",
        "refresh_tokens",
        "users",
        # demo:begin
        "feature_flags",
        "projects",
        "tasks",
        # demo:end
    ]
    assert sorted(hand_written + [seed.table for seed in SEEDS]) == TENANT_OWNED


@pytest.mark.parametrize("table", TENANT_OWNED)
async def test_unfiltered_select_sees_only_the_bound_tenant(
    populated: tuple[Org, Org], session_factory: SessionFactory, table: str
) -> None:
    acme, globex = populated
    for org in (acme, globex):
        async with session_factory() as session:
            await bind_tenant(session, org.tenant.id)
            assert await tenants_visible(session, table) == {str(org.tenant.id)}


@pytest.mark.parametrize("table", TENANT_OWNED)
async def test_no_tenant_bound_sees_nothing(
    populated: tuple[Org, Org], session_factory: SessionFactory, table: str
) -> None:
    async with session_factory() as session:
        await session.execute(select(func.set_config("app.tenant_id", "", True)))
        assert await tenants_visible(session, table) == set()


async def test_writing_a_row_for_another_tenant_is_refused(
    acme: Org, globex: Org, session_factory: SessionFactory
) -> None:
    async with session_factory() as session:
        await bind_tenant(session, acme.tenant.id)
        with pytest.raises(Exception, match="row-level security"):
            await session.execute(
                text("UPDATE users SET tenant_id = :other WHERE id = :id"),
                {"other": globex.tenant.id, "id": acme.member.user.id},
            )


async def test_the_app_role_is_neither_superuser_nor_owner(
    app: FastAPI, session: AsyncSession
) -> None:
    role = (
        await session.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        )
    ).one()
    assert tuple(role) == (False, False)
    for table in TENANT_OWNED:
        owns = await session.scalar(
            text(
                "SELECT pg_has_role(current_user, tableowner, 'MEMBER') "
                "FROM pg_tables WHERE schemaname = 'public' AND tablename = :table"
            ),
            {"table": table},
        )
        assert owns is False, table
        enabled = await session.scalar(
            text("SELECT relrowsecurity FROM pg_class WHERE relname = :table"), {"table": table}
        )
        assert enabled is True, table
