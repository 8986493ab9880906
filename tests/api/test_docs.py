"""The interactive docs (app/api/docs.py): Swagger UI and ReDoc served with local assets only,
the tenant wiring of Swagger's Authorize, and API__DOCS_ENABLED (off by default in production).
The same pages in a real browser: tests/e2e/test_docs_browser.py."""

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from fastapi.openapi.models import OAuth2
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr

from app.api.docs import STATIC_URL, TENANT_STORAGE_KEY, password_token_paths
from app.auth.dependencies import bearer
from app.core.config import ApiSettings, AppEnv, Settings, TenancySettings
from app.main import create_app
from tests.fixtures.secrets import production_secrets_env, production_settings, strong_secret
from tests.fixtures.settings import make_settings

PAGES = ("/docs", "/redoc")
# Every URL a page loads: <script src>, <link href>, and the OpenAPI document's URL.
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def references(page: str) -> list[str]:
    return REFERENCE.findall(page)


@pytest.fixture(scope="module")
def docs_app() -> FastAPI:
    """One app for the module (building its OpenAPI document takes a second or two), used
    without its lifespan: the docs need neither PostgreSQL nor Redis."""
    return create_app(make_settings())


@pytest.fixture
async def bare_client(docs_app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with client_for(docs_app) as client:
        yield client


def client_for(app: FastAPI, root_path: str = "") -> AsyncClient:
    return AsyncClient(
        transport=ASGITransport(app=app, root_path=root_path), base_url="http://test"
    )


class TestPagesUseLocalAssetsOnly:
    @pytest.mark.parametrize("path", PAGES)
    async def test_the_page_is_html_with_only_local_references(
        self, client: AsyncClient, path: str
    ) -> None:
        response = await client.get(path)

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        found = references(response.text)
        assert found, "the page loads its assets"
        assert all(url.startswith(f"{STATIC_URL}/") for url in found), found
        # No CDN, no web font, no online validator: no absolute URL at all in the page.
        assert "http://" not in response.text
        assert "https://" not in response.text
        assert "//cdn" not in response.text

    async def test_swagger_loads_its_bundle_and_stylesheet(self, bare_client: AsyncClient) -> None:
        found = references((await bare_client.get("/docs")).text)
        assert f"{STATIC_URL}/swagger-ui-bundle.js" in found
        assert f"{STATIC_URL}/swagger-ui.css" in found

    async def test_redoc_loads_its_bundle(self, bare_client: AsyncClient) -> None:
        response = await bare_client.get("/redoc")
        assert f"{STATIC_URL}/redoc.standalone.js" in references(response.text)
        assert 'spec-url="/openapi.json"' in response.text
        # ReDoc's bundle would fetch a logo from its CDN: the page keeps images to this server.
        assert "img-src 'self' data:" in response.headers["content-security-policy"]

    @pytest.mark.parametrize("path", PAGES)
    async def test_every_asset_a_page_references_is_served(
        self, bare_client: AsyncClient, path: str
    ) -> None:
        expected = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
        for url in references((await bare_client.get(path)).text):
            response = await bare_client.get(url)
            assert response.status_code == 200, url
            suffix = url[url.rindex(".") :]
            assert response.headers["content-type"].startswith(expected[suffix]), url
            assert len(response.content) > 1000, url

    async def test_the_bundles_are_the_real_ones(self, bare_client: AsyncClient) -> None:
        swagger = await bare_client.get(f"{STATIC_URL}/swagger-ui-bundle.js")
        redoc = await bare_client.get(f"{STATIC_URL}/redoc.standalone.js")
        assert "SwaggerUIBundle" in swagger.text
        assert "Redoc" in redoc.text

    async def test_the_oauth2_redirect_page_is_served(self, bare_client: AsyncClient) -> None:
        response = await bare_client.get("/docs/oauth2-redirect")
        assert response.status_code == 200
        assert "https://" not in response.text

    async def test_behind_a_root_path_the_references_carry_it(self, docs_app: FastAPI) -> None:
        async with client_for(docs_app, root_path="/svc") as client:
            page = (await client.get("/svc/docs")).text
        assert f"/svc{STATIC_URL}/swagger-ui-bundle.js" in references(page)
        assert '"url": "/svc/openapi.json"' in page

    async def test_assets_outside_the_folder_are_not_served(self, bare_client: AsyncClient) -> None:
        response = await bare_client.get(f"{STATIC_URL}/../core.py")
        assert response.status_code == 404


INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)  # <script src=...> excluded
INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)  # onclick=, onsubmit=, ...


def sha256_source(code: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'"


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


class TestPagesContentSecurityPolicy:
    """Each page sets its own policy (the API's allows nothing): inline code runs only by its
    hash, and nothing comes from, goes to or frames the page from elsewhere. The browser test
    runs the pages under these policies."""

    @pytest.mark.parametrize("path", [*PAGES, "/docs/oauth2-redirect"])
    async def test_nothing_from_elsewhere(self, bare_client: AsyncClient, path: str) -> None:
        policy = directives((await bare_client.get(path)).headers["content-security-policy"])

        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'none'"]
        assert policy["form-action"] == ["'none'"]
        assert policy.get("connect-src", ["'self'"]) == ["'self'"]
        assert policy.get("img-src", ["'self'"]) in (["'self'"], ["'self'", "data:"])
        sources = [source for values in policy.values() for source in values]
        assert not [source for source in sources if "://" in source or source == "*"]
        assert "'unsafe-eval'" not in sources
        assert "'unsafe-inline'" not in policy["script-src"]

    @pytest.mark.parametrize("root_path", ["", "/svc"])
    async def test_swagger_runs_its_own_inline_script_and_style_only(
        self, docs_app: FastAPI, root_path: str
    ) -> None:
        async with client_for(docs_app, root_path=root_path) as client:
            response = await client.get(f"{root_path}/docs")
        policy = directives(response.headers["content-security-policy"])
        scripts = INLINE_SCRIPT.findall(response.text)
        styles = INLINE_STYLE.findall(response.text)

        assert scripts
        assert styles
        assert policy["script-src"] == ["'self'", *map(sha256_source, scripts)]
        assert policy["style-src"] == ["'self'", *map(sha256_source, styles)]
        # An inline handler would need 'unsafe-hashes': the page has none.
        assert EVENT_HANDLER.search(response.text) is None

    async def test_redoc_runs_no_inline_script(self, bare_client: AsyncClient) -> None:
        response = await bare_client.get("/redoc")
        policy = directives(response.headers["content-security-policy"])

        assert INLINE_SCRIPT.findall(response.text) == []
        assert policy["script-src"] == ["'self'"]
        # What ReDoc needs at run time: the <style> elements it writes, its search worker.
        assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
        assert policy["worker-src"] == ["blob:"]

    async def test_the_oauth2_redirect_page_runs_its_script(self, bare_client: AsyncClient) -> None:
        response = await bare_client.get("/docs/oauth2-redirect")
        policy = directives(response.headers["content-security-policy"])

        assert policy["script-src"] == list(
            map(sha256_source, INLINE_SCRIPT.findall(response.text))
        )


class TestSwaggerAuthorizeCarriesTheTenant:
    async def test_the_page_asks_for_the_tenant_and_explains_authorize(
        self, bare_client: AsyncClient
    ) -> None:
        page = (await bare_client.get("/docs")).text
        assert 'id="dependable-tenant"' in page
        assert "X-Tenant" in page
        assert "Authorize" in page
        assert "?tenant=" in page  # the prefill is documented on the page itself
        assert json.dumps(TENANT_STORAGE_KEY) in page

    async def test_the_interceptor_targets_the_login_route(self, bare_client: AsyncClient) -> None:
        page = (await bare_client.get("/docs")).text
        assert isinstance(bearer.model, OAuth2)
        password_flow = bearer.model.flows.password
        assert password_flow is not None
        token_url = password_flow.tokenUrl
        assert token_url == "/api/v1/auth/token"
        assert f"const tenantPaths = {json.dumps([token_url])};" in page
        assert "requestInterceptor" in page

    def test_token_paths_come_from_the_openapi_document(self, docs_app: FastAPI) -> None:
        spec = docs_app.openapi()
        assert password_token_paths(spec) == ["/api/v1/auth/token"]
        assert password_token_paths({}) == []

    async def test_with_the_subdomain_resolver_there_is_no_tenant_box(self) -> None:
        settings = make_settings(
            tenancy=TenancySettings(resolver="subdomain", base_domain="example.com")
        )
        async with client_for(create_app(settings)) as client:
            page = (await client.get("/docs")).text
        assert 'id="dependable-tenant"' not in page
        assert "host name" in page

    async def test_the_swagger_config_is_not_injectable_through_the_title(self) -> None:
        app = create_app(make_settings(app_name="</script><script>alert(1)</script>"))
        async with client_for(app) as client:
            page = (await client.get("/docs")).text
        assert "<script>alert(1)" not in page


DISABLED_PATHS = (
    "/docs",
    "/redoc",
    "/openapi.json",
    "/docs/oauth2-redirect",
    f"{STATIC_URL}/swagger-ui-bundle.js",
)


class TestDocsCanBeTurnedOff:
    async def test_disabled_docs_are_404(self) -> None:
        app = create_app(make_settings(api=ApiSettings(docs_enabled=False)))
        async with client_for(app) as client:
            for path in DISABLED_PATHS:
                assert (await client.get(path)).status_code == 404, path
        paths = [getattr(route, "path", "") for route in app.routes]
        assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]

    async def test_production_serves_no_docs_unless_asked(self) -> None:
        production = production_settings()
        asked = production_settings(
            api=ApiSettings(docs_enabled=True, cursor_secret=SecretStr(strong_secret()))
        )
        async with client_for(create_app(production)) as off, client_for(create_app(asked)) as on:
            for path in ("/docs", "/redoc", "/openapi.json"):
                assert (await off.get(path)).status_code == 404, path
                assert (await on.get(path)).status_code == 200, path

    @pytest.mark.parametrize(
        ("app_env", "expected"),
        [("development", True), ("test", True), ("staging", True), ("production", False)],
    )
    def test_the_default_depends_on_app_env(self, app_env: AppEnv, expected: bool) -> None:
        assert ApiSettings().resolved_docs_enabled(app_env) is expected

    @pytest.mark.parametrize(("value", "expected"), [("", False), ("true", True), ("false", False)])
    def test_the_environment_variable(
        self, monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
    ) -> None:
        monkeypatch.setenv("APP_ENV", "production")
        for name, secret in production_secrets_env().items():
            monkeypatch.setenv(name, secret)
        monkeypatch.setenv("API__DOCS_ENABLED", value)  # empty, as in .env.example: the default
        settings = Settings(_env_file=None)
        assert settings.api.resolved_docs_enabled(settings.app_env) is expected
