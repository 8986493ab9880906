"""CORS (app/http/cors.py, HTTP__CORS_ORIGINS): none unless origins are configured; then only
those origins, with the API's methods and headers."""

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import ValidationError
from starlette.middleware.cors import CORSMiddleware

from app.core.config import HttpSettings
from app.main import create_app
from tests.fixtures.settings import make_settings

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, x-tenant, idempotency-key",
}


def client_for(app: FastAPI) -> AsyncClient:
    """Without the lifespan: preflights and /health/live touch neither PostgreSQL nor Redis."""
    return AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture(scope="module")
def cors_app() -> FastAPI:
    return create_app(make_settings(http=HttpSettings(cors_origins=[APP_ORIGIN])))


class TestByDefault:
    def test_there_is_no_cors_middleware(self, app: FastAPI) -> None:
        installed: list[object] = [middleware.cls for middleware in app.user_middleware]
        assert CORSMiddleware not in installed

    async def test_another_site_can_neither_preflight_nor_read(self, client: AsyncClient) -> None:
        preflight = await client.options(
            "/api/v1/users", headers={"Origin": APP_ORIGIN, **PREFLIGHT}
        )
        simple = await client.get("/health/live", headers={"Origin": APP_ORIGIN})

        assert preflight.status_code == 405
        assert "access-control-allow-origin" not in preflight.headers
        assert "access-control-allow-origin" not in simple.headers


class TestWithOrigins:
    async def test_a_configured_origin_is_allowed_the_apis_methods_and_headers(
        self, cors_app: FastAPI
    ) -> None:
        async with client_for(cors_app) as client:
            response = await client.options(
                "/api/v1/users", headers={"Origin": APP_ORIGIN, **PREFLIGHT}
            )

        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "PATCH" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {"authorization", "x-tenant", "idempotency-key", "if-match"} <= set(
            allowed.replace(" ", "").split(",")
        )
        assert "access-control-allow-credentials" not in response.headers  # bearer tokens only

    async def test_its_pages_can_read_the_answer_and_its_headers(self, cors_app: FastAPI) -> None:
        async with client_for(cors_app) as client:
            response = await client.get("/health/live", headers={"Origin": APP_ORIGIN})

        assert response.headers["access-control-allow-origin"] == APP_ORIGIN
        exposed = response.headers["access-control-expose-headers"].lower().split(",")
        assert {"x-request-id", "etag", "retry-after"} <= {name.strip() for name in exposed}

    async def test_another_origin_is_refused(self, cors_app: FastAPI) -> None:
        async with client_for(cors_app) as client:
            preflight = await client.options(
                "/api/v1/users", headers={"Origin": "https://evil.example.com", **PREFLIGHT}
            )
            simple = await client.get(
                "/health/live", headers={"Origin": "https://evil.example.com"}
            )

        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers
        assert "access-control-allow-origin" not in simple.headers


class TestSetting:
    @pytest.mark.parametrize(
        "origin",
        ["https://app.example.com/", "https://app.example.com/path", "app.example.com",
         "ftp://app.example.com", "https://"],
    )  # fmt: skip
    def test_what_would_match_no_origin_is_refused(self, origin: str) -> None:
        with pytest.raises(ValidationError, match="HTTP__CORS_ORIGINS"):
            HttpSettings(cors_origins=[origin])

    @pytest.mark.parametrize("origin", ["https://app.example.com", "http://localhost:3000", "*"])
    def test_origins_are_accepted(self, origin: str) -> None:
        assert HttpSettings(cors_origins=[origin]).cors_origins == [origin]
