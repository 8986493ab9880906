"""The host check (app/http/hosts.py, HTTP__ALLOWED_HOSTS): a Host the service does not serve is
400 before any route runs, except on the probe paths; the defaults per APP_ENV."""

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import ValidationError

from app.core.config import AppEnv, HttpSettings, Settings
from app.main import create_app
from tests.fixtures.secrets import production_settings

SERVED = 404  # what a path with no route answers once the host has passed the check
PATH = "/no/such/route"
LOOPBACK = ["localhost", "127.0.0.1", "[::1]"]


def client_for(app: FastAPI) -> AsyncClient:
    """Without the lifespan: nothing here reaches PostgreSQL or Redis."""
    return AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def status_for(client: AsyncClient, host: str, path: str = PATH) -> int:
    return (await client.get(path, headers={"Host": host})).status_code


class TestDevelopmentAndTest:
    @pytest.mark.parametrize(
        "host",
        ["test", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "acme.localhost:8000",
         "acme.example.test", "testserver"],
    )  # fmt: skip
    async def test_local_and_test_names_are_served(self, client: AsyncClient, host: str) -> None:
        assert await status_for(client, host) == SERVED

    @pytest.mark.parametrize("host", ["evil.example.com", "test.evil.example.com", "localhost.me"])
    async def test_any_other_host_is_400(self, client: AsyncClient, host: str) -> None:
        response = await client.get(PATH, headers={"Host": host})

        assert response.status_code == 400
        assert response.text == "Invalid host header"

    @pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
    async def test_probes_and_scrapes_answer_whatever_the_host(
        self, client: AsyncClient, path: str
    ) -> None:
        # Kubernetes probes send the pod's address as Host, Prometheus the target's.
        assert await status_for(client, "10.1.2.3:8000", path) == 200


class TestProduction:
    async def test_unset_serves_the_loopback_names_only(self) -> None:
        app = create_app(production_settings(http=HttpSettings()))
        async with client_for(app) as client:
            assert await status_for(client, "127.0.0.1:8000") == SERVED
            assert await status_for(client, "localhost") == SERVED
            assert await status_for(client, "test") == 400
            assert await status_for(client, "api.example.com") == 400

    async def test_the_setting_restricts_to_exactly_its_names(self) -> None:
        allowed = HttpSettings(allowed_hosts=["api.example.com", "*.tenants.example.com"])
        app = create_app(production_settings(http=allowed))
        async with client_for(app) as client:
            assert await status_for(client, "api.example.com") == SERVED
            assert await status_for(client, "API.example.com:443") == SERVED
            assert await status_for(client, "acme.tenants.example.com") == SERVED
            assert await status_for(client, "tenants.example.com") == 400
            assert await status_for(client, "127.0.0.1") == 400
            assert await status_for(client, "127.0.0.1", "/health/live") == 200


class TestSetting:
    @pytest.mark.parametrize("app_env", ["development", "test"])
    def test_development_and_test_add_local_subdomains_and_test_names(
        self, app_env: AppEnv
    ) -> None:
        assert HttpSettings().resolved_allowed_hosts(app_env) == [
            *LOOPBACK,
            "*.localhost",
            "test",
            "*.test",
            "testserver",
        ]

    @pytest.mark.parametrize("app_env", ["staging", "production"])
    def test_elsewhere_only_the_loopback_names(self, app_env: AppEnv) -> None:
        assert HttpSettings().resolved_allowed_hosts(app_env) == LOOPBACK

    def test_the_environment_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("APP_ENV", "test")
        monkeypatch.setenv("HTTP__ALLOWED_HOSTS", '["API.example.com", "*.example.com"]')
        assert Settings(_env_file=None).http.allowed_hosts == ["api.example.com", "*.example.com"]
        monkeypatch.setenv("HTTP__ALLOWED_HOSTS", "")  # as .env.example has it: the default
        assert Settings(_env_file=None).http.allowed_hosts is None

    @pytest.mark.parametrize(
        "host",
        ["https://api.example.com", "api.example.com:8443", "::1", "api.*.com", "*example.com", ""],
    )
    def test_what_would_match_nothing_is_refused(self, host: str) -> None:
        with pytest.raises(ValidationError, match="HTTP__ALLOWED_HOSTS"):
            HttpSettings(allowed_hosts=[host])

    @pytest.mark.parametrize("host", ["*", "*.example.com", "[::1]", "API.Example.com"])
    def test_names_patterns_and_addresses_are_accepted(self, host: str) -> None:
        assert HttpSettings(allowed_hosts=[host]).allowed_hosts == [host.lower()]
