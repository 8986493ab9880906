"""POST /api/v1/tenants over an in-memory TenantService injected through
`app.dependency_overrides`: the HTTP layer and the service run for real, and no database is
touched."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.http.deps import get_session
from app.identity.models import Tenant
from app.tenant.dependencies import get_tenant_service
from tests.fixtures.app import provide
from tests.fixtures.factories import signup_body
from tests.fixtures.fake_identity import InMemorySignup, signup_in_memory
from tests.fixtures.fakes import Overrides, client_without_database, database_must_not_be_used


@dataclass
class Unit:
    client: AsyncClient
    signup: InMemorySignup


@pytest.fixture
async def unit(app_instance: FastAPI) -> AsyncIterator[Unit]:
    signup = signup_in_memory()
    overrides: Overrides = {
        get_tenant_service: provide(signup.service),
        # The provider no longer asks for a session; nothing else in the route may either.
        get_session: database_must_not_be_used,
    }
    async with client_without_database(app_instance, overrides) as client:
        yield Unit(client, signup)


class TestTenantServiceThroughOverrides:
    async def test_signup_uses_the_injected_repositories(self, unit: Unit) -> None:
        response = await unit.client.post("/api/v1/tenants", json=signup_body())

        assert response.status_code == 201, response.text
        [owner] = unit.signup.users.rows.values()
        assert owner.password_hash == "hashed:correct horse battery staple"
        assert owner.email == "owner@example.com"
        assert [t.slug for t in unit.signup.tenants.rows.values()] == ["acme"]

    async def test_taken_slug_in_the_fake_is_409(self, unit: Unit) -> None:
        await unit.signup.tenants.add(Tenant(name="Existing", slug="acme"))

        response = await unit.client.post("/api/v1/tenants", json=signup_body())

        assert response.status_code == 409
        assert len(unit.signup.tenants.rows) == 1
