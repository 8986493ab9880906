"""`get_settings` is an ordinary dependency: overriding it changes behaviour deep in the graph
(here the password policy that `get_tenant_service` hands to `TenantService`)."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.config import AuthSettings
from app.http.deps import get_settings
from tests.fixtures.app import provide
from tests.fixtures.factories import signup_body
from tests.fixtures.paths import TENANTS
from tests.fixtures.settings import make_settings

FOURTEEN_CHARS = "fourteen-chars"


async def test_default_policy_accepts_fourteen_characters(client: AsyncClient) -> None:
    response = await client.post(TENANTS, json=signup_body(password=FOURTEEN_CHARS))
    assert response.status_code == 201


@pytest.mark.overrides("overriding get_settings is what it shows")
async def test_overridden_settings_reach_the_service(app: FastAPI, client: AsyncClient) -> None:
    strict = make_settings(
        auth=AuthSettings(password_min_length=16, argon2_time_cost=1, argon2_memory_cost_kib=1024)
    )
    app.dependency_overrides[get_settings] = provide(strict)

    response = await client.post(TENANTS, json=signup_body(password=FOURTEEN_CHARS))

    assert response.status_code == 422
    assert response.json()["type"].endswith("weak-password")
    assert "16 characters" in response.json()["detail"]
