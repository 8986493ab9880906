"""How a request names its tenant: the `X-Tenant` header or, with TENANCY__RESOLVER=subdomain,
the host's first label under TENANCY__BASE_DOMAIN. Either way it must be the token's tenant."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.config import RateLimitRule, RateLimitSettings, Settings, TenancySettings
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.paths import ME
from tests.fixtures.problems import assert_problem


@pytest.fixture
def subdomains(app: FastAPI, settings: Settings) -> None:
    by_host = settings.model_copy(
        update={"tenancy": TenancySettings(resolver="subdomain", base_domain="example.test")}
    )
    use_resources(app, settings=by_host)


class TestHeader:
    async def test_no_tenant_named_uses_the_tokens(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(ME, headers=acme.member.headers)
        assert response.json()["tenant_id"] == str(acme.tenant.id)

    async def test_naming_the_tokens_tenant_is_fine(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(ME, headers={**acme.member.headers, "X-Tenant": "acme"})
        assert response.status_code == 200

    async def test_naming_another_tenant_is_403(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        response = await client.get(ME, headers={**acme.member.headers, "X-Tenant": "globex"})
        assert assert_problem(response, 403)["type"].endswith("tenant-mismatch")

    async def test_naming_an_unknown_tenant_is_the_same_403(
        self, client: AsyncClient, acme: Org
    ) -> None:
        # Not a 404: the answer must not tell which other tenants exist.
        response = await client.get(ME, headers={**acme.member.headers, "X-Tenant": "nope"})
        assert assert_problem(response, 403)["type"].endswith("tenant-mismatch")


@pytest.mark.usefixtures("subdomains")
class TestSubdomain:
    async def test_the_tokens_subdomain_is_fine(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(
            ME, headers={**acme.member.headers, "Host": "acme.example.test"}
        )
        assert response.status_code == 200

    async def test_another_tenants_subdomain_is_403(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        response = await client.get(
            ME, headers={**acme.member.headers, "Host": "globex.example.test:8000"}
        )
        assert assert_problem(response, 403)["type"].endswith("tenant-mismatch")

    async def test_the_header_is_ignored(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        response = await client.get(ME, headers={**acme.member.headers, "X-Tenant": "globex"})
        assert response.status_code == 200

    async def test_login_resolves_the_tenant_from_the_host(
        self, client: AsyncClient, acme: Org
    ) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": acme.member.user.email, "password": "correct horse battery staple"},
            headers={"Host": "acme.example.test"},
        )
        assert response.status_code == 200


async def test_signup_is_rate_limited_per_address(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    strict = settings.model_copy(
        update={
            "rate_limit": RateLimitSettings(
                signup_per_address=RateLimitRule(limit=2, period_seconds=3600)
            )
        }
    )
    use_resources(app, settings=strict)
    statuses = []
    for n in range(3):
        body = {
            "name": f"T{n}",
            "slug": f"limited-{n}",
            "email": f"o{n}@example.com",
            "password": "correct horse battery staple",
            "full_name": "O",
        }
        response = await client.post("/api/v1/tenants", json=body)
        statuses.append(response.status_code)
    assert statuses == [201, 201, 429]
    assert response.headers["retry-after"]
    assert response.headers["ratelimit-limit"] == "2"


async def test_item4_the_per_account_login_limit_keys_on_the_resolved_tenant(
    app: FastAPI, client: AsyncClient, acme: Org, settings: Settings
) -> None:
    """Issue 10, item 4: in subdomain mode the per-account bucket is the tenant as the resolver
    reads it, so another port, another letter case or an `X-Tenant` header (which that resolver
    ignores) is the same account, not a fresh bucket."""
    strict = settings.model_copy(
        update={
            "tenancy": TenancySettings(resolver="subdomain", base_domain="example.test"),
            "rate_limit": RateLimitSettings(
                login_per_account=RateLimitRule(limit=3, period_seconds=3600)
            ),
        }
    )
    use_resources(app, settings=strict)
    spellings = [
        {"Host": "acme.example.test"},
        {"Host": "acme.example.test:9999"},
        {"Host": "ACME.example.test:8443", "X-Tenant": "anything"},
        {"Host": "acme.example.test", "X-Tenant": "something-else"},
    ]
    statuses = []
    for headers in spellings:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": acme.member.user.email.upper(), "password": "wrong password!!"},
            headers=headers,
        )
        statuses.append(response.status_code)

    assert statuses == [401, 401, 401, 429]
