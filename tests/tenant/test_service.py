"""TenantService with in-memory repositories injected through `app.dependency_overrides`: the
HTTP layer and the service run for real, and no database is touched."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.core.security import WeakPasswordError
from app.http.deps import get_session
from app.identity.exceptions import TenantSlugTakenError
from app.identity.models import Role, Tenant, User
from app.tenant.dependencies import get_tenant_service
from app.tenant.service import TenantService
from tests.fixtures.app import provide
from tests.fixtures.factories import signup_body


def stored(row: Any) -> Any:
    """Fill in what PostgreSQL's defaults would on insert."""
    row.id = row.id or uuid.uuid4()
    row.created_at = row.created_at or datetime.now(UTC)
    row.is_active = True if row.is_active is None else row.is_active
    return row


class InMemoryTenants:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Tenant] = {}

    async def slug_exists(self, slug: str) -> bool:
        return any(t.slug == slug for t in self.rows.values())

    async def add(self, tenant: Tenant) -> Tenant:
        self.rows[tenant.id] = stored(tenant)
        return tenant


class InMemoryUsers:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, User] = {}

    async def add(self, user: User) -> User:
        self.rows[user.id] = stored(user)
        return user


class InMemoryScopes:
    """Stands in for TenantWall: `enter` records the tenant the flow bound itself to and
    hands out users that get that tenant stamped on, as the tenant-owned repository does."""

    def __init__(self, users: InMemoryUsers) -> None:
        self.users = users
        self.entered: list[uuid.UUID] = []

    async def enter(self, tenant_id: uuid.UUID) -> SimpleNamespace:
        self.entered.append(tenant_id)
        return SimpleNamespace(users=TenantUsers(self.users, tenant_id))


class TenantUsers:
    def __init__(self, users: InMemoryUsers, tenant_id: uuid.UUID) -> None:
        self.users = users
        self.tenant_id = tenant_id

    async def add(self, user: User) -> User:
        user.tenant_id = self.tenant_id
        return await self.users.add(user)


class PlainHasher:
    """Not a hash at all: only for proving the service hands the password to the hasher."""

    async def hash(self, password: str) -> str:
        return f"hashed:{password}"

    async def verify_and_update(
        self, password: str, password_hash: str | None
    ) -> tuple[bool, None]:
        return password_hash == f"hashed:{password}", None


async def database_must_not_be_used() -> AsyncIterator[Any]:
    raise AssertionError("a unit test reached the database session")
    yield  # pragma: no cover


@pytest.fixture
async def unit_client(app_instance: FastAPI) -> AsyncIterator[tuple[AsyncClient, Any, Any]]:
    tenants, users = InMemoryTenants(), InMemoryUsers()
    service = TenantService(
        tenants,  # type: ignore[arg-type]
        InMemoryScopes(users),
        PlainHasher(),
        password_min_length=12,
    )
    overrides = app_instance.dependency_overrides
    overrides[get_tenant_service] = provide(service)
    # The provider no longer asks for a session; nothing else in the route may either.
    overrides[get_session] = database_must_not_be_used
    transport = ASGITransport(app=app_instance)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, tenants, users
    overrides.clear()


class TestTenantServiceThroughOverrides:
    async def test_signup_uses_the_injected_repositories(self, unit_client):
        client, tenants, users = unit_client

        response = await client.post("/api/v1/tenants", json=signup_body())

        assert response.status_code == 201, response.text
        [owner] = users.rows.values()
        assert owner.password_hash == "hashed:correct horse battery staple"
        assert owner.email == "owner@example.com"
        assert [t.slug for t in tenants.rows.values()] == ["acme"]

    async def test_taken_slug_in_the_fake_is_409(self, unit_client):
        client, tenants, _ = unit_client
        await tenants.add(Tenant(name="Existing", slug="acme"))

        response = await client.post("/api/v1/tenants", json=signup_body())

        assert response.status_code == 409
        assert len(tenants.rows) == 1


class TestTenantServiceDirectly:
    def service(self, **kwargs: Any) -> tuple[TenantService, InMemoryTenants, InMemoryUsers]:
        tenants, users = InMemoryTenants(), InMemoryUsers()
        service = TenantService(
            tenants,  # type: ignore[arg-type]
            InMemoryScopes(users),
            PlainHasher(),
            password_min_length=kwargs.get("password_min_length", 12),
        )
        return service, tenants, users

    async def test_owner_gets_the_owner_role_in_the_new_tenant(self):
        service, _, _ = self.service()

        result = await service.sign_up(
            name="Acme", slug="acme", email="A@B.example", password="x" * 12, full_name="A"
        )

        assert result.owner.role is Role.OWNER
        assert result.owner.tenant_id == result.tenant.id
        assert result.owner.email == "a@b.example"

    async def test_password_policy_comes_from_the_caller(self):
        service, tenants, _ = self.service(password_min_length=20)

        with pytest.raises(WeakPasswordError):
            await service.sign_up(
                name="Acme", slug="acme", email="a@b.example", password="x" * 19, full_name="A"
            )
        assert tenants.rows == {}

    async def test_taken_slug_raises_before_writing(self):
        service, tenants, users = self.service()
        await tenants.add(Tenant(name="Acme", slug="acme"))

        with pytest.raises(TenantSlugTakenError):
            await service.sign_up(
                name="Acme", slug="acme", email="a@b.example", password="x" * 12, full_name="A"
            )
        assert users.rows == {}
