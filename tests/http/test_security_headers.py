"""SecurityHeadersMiddleware (app/http/security_headers.py): every answer carries the security
headers, whoever produced it (a route, the problem handlers, a middleware that refused the
request, the last-resort 500); Strict-Transport-Security only when HTTP__HTTPS_ONLY says so."""

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.config import HttpSettings
from app.main import create_app
from app.tenant.dependencies import get_tenant_service
from tests.fixtures.factories import signup_body
from tests.fixtures.settings import make_settings

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
Call = Callable[[AsyncClient], Awaitable[httpx.Response]]


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == API_POLICY
    assert "strict-transport-security" not in response.headers  # plain HTTP by default


# Each answer comes from somewhere else in the stack.
ANSWERS: dict[str, tuple[int, Call]] = {
    "a route's 200": (200, lambda client: client.get("/health/live")),
    "readiness": (200, lambda client: client.get("/health/ready")),
    "metrics": (200, lambda client: client.get("/metrics")),
    "the OpenAPI document": (200, lambda client: client.get("/openapi.json")),
    "no such route": (404, lambda client: client.get("/no/such/route")),
    "a validation problem": (422, lambda client: client.post("/api/v1/tenants", json={})),
    "no token": (401, lambda client: client.get("/api/v1/users/me")),
    "a body over the limit": (
        413,
        lambda client: client.post("/api/v1/tenants", json=signup_body(name="x" * 1_100_000)),
    ),
    "a host not served": (
        400,
        lambda client: client.get("/api/v1/users/me", headers={"Host": "evil.example.com"}),
    ),
}


class TestEveryAnswer:
    @pytest.mark.parametrize("answer", ANSWERS)
    async def test_carries_the_security_headers(self, client: AsyncClient, answer: str) -> None:
        status, call = ANSWERS[answer]

        response = await call(client)

        assert response.status_code == status
        assert_security_headers(response)

    @pytest.mark.overrides("a service provider that raises: the unexpected-error path")
    async def test_the_last_resort_500_carries_them(
        self, app: FastAPI, client: AsyncClient
    ) -> None:
        async def broken_service() -> None:
            raise RuntimeError("boom")

        app.dependency_overrides[get_tenant_service] = broken_service

        response = await client.post("/api/v1/tenants", json=signup_body())

        assert response.status_code == 500
        assert_security_headers(response)

    async def test_a_page_that_sets_its_own_policy_keeps_it(self, client: AsyncClient) -> None:
        response = await client.get("/docs")  # app/api/docs.py sets the docs pages' policies

        assert response.headers["content-security-policy"].startswith("default-src 'none'; ")
        assert response.headers["content-security-policy"] != API_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"


class TestStrictTransportSecurity:
    """Built without the lifespan: these answers touch neither PostgreSQL nor Redis."""

    @pytest.mark.parametrize("path", ["/health/live", "/no/such/route"])
    async def test_sent_when_the_service_is_https_only(self, path: str) -> None:
        app = create_app(make_settings(http=HttpSettings(https_only=True)))
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="https://test") as client:
            response = await client.get(path)

        assert response.headers["strict-transport-security"] == "max-age=31536000"

    async def test_its_max_age_is_a_setting(self) -> None:
        settings = make_settings(http=HttpSettings(https_only=True, hsts_max_age_seconds=600))
        transport = httpx.ASGITransport(app=create_app(settings))
        async with AsyncClient(transport=transport, base_url="https://test") as client:
            response = await client.get("/health/live")

        assert response.headers["strict-transport-security"] == "max-age=600"
