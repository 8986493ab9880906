"""The interactive docs in a real browser: a real uvicorn process, Debian's Chromium driven by
Playwright. A user enters the tenant, authorizes through Swagger's dialog, runs
`GET /api/v1/users/me` with "Try it out" -> "Execute" and sees their own email; then ReDoc shows
the same document and searches it. The pages load nothing from outside this machine, and run
under their own Content-Security-Policy (app/api/docs.py), which blocks nothing they need.

The screenshot of that state goes to the test's tmp_path; with UPDATE_DOCS_SCREENSHOT=1 it
replaces docs/img/swagger-authorized.png (shown in the README), so that an ordinary test run
leaves the work tree clean:

    UPDATE_DOCS_SCREENSHOT=1 uv run pytest -q tests/e2e/test_docs_browser.py

Needs /usr/bin/chromium (`apt-get install -y --no-install-recommends chromium`; .ci/run installs
it). Never a browser that Playwright downloads."""

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import (
    BrowserContext,
    FloatRect,
    Locator,
    Page,
    Request,
    Route,
    async_playwright,
    expect,
)
from sqlalchemy.engine import make_url

from app.core.config import Settings
from tests.fixtures.paths import ME, TOKEN
from tests.fixtures.ports import unused_port
from tests.fixtures.server import wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOT = ROOT / "docs" / "img" / "swagger-authorized.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TEST_SECONDS = 180  # the whole test, browser included
UI_TIMEOUT_MS = 20_000  # any one step in the page
EMAIL = "dora@example.com"  # unique per tenant only: every run has a tenant of its own
PASSWORD = "correct horse battery staple"
LIVE_RESPONSE = ".live-responses-table tr.response"  # what "Execute" got back

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium: "
    "apt-get install -y --no-install-recommends chromium",
)


def server_environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "test",
        "API__DOCS_ENABLED": "true",
        "DATABASE__URL": settings.database.url,
        "DATABASE__MIGRATION_URL": settings.database.owner_url,
        "REDIS__URL": settings.redis.url,
        # Cheap hashing, as in the in-process tests: the signup and the login stay fast.
        "AUTH__ARGON2_TIME_COST": "1",
        "AUTH__ARGON2_MEMORY_COST_KIB": "1024",
        "AUTH__ARGON2_PARALLELISM": "1",
        "OPERATIONS__LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }


@asynccontextmanager
async def uvicorn_serving(settings: Settings, port: int, log: Path) -> AsyncIterator[str]:
    """The app in a real uvicorn process on 127.0.0.1:port, ready; killed on the way out."""
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            "tests.e2e.docs_app:create",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            cwd=ROOT,
            env=server_environment(settings),
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
                await wait_until_ready(client, process)
            yield base_url
        finally:
            if process.returncode is None:
                process.kill()
                await asyncio.wait_for(process.wait(), 10)


async def sign_up(base_url: str, slug: str, email: str) -> None:
    """A tenant and its owner, committed for real by the server (cleaned up by `delete_tenant`)."""
    body = {
        "name": "Docs Browser Test",
        "slug": slug,
        "email": email,
        "password": PASSWORD,
        "full_name": "Dora Docs",
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post("/api/v1/tenants", json=body)
    assert response.status_code == 201, response.text


async def delete_tenant(settings: Settings, slug: str) -> None:
    """Through the owner's connection (no row-level security); the tenant's rows cascade."""
    url = make_url(settings.database.owner_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
        timeout=10,
    )
    try:
        await connection.execute("DELETE FROM tenants WHERE slug = $1", slug, timeout=10)
    finally:
        await connection.close(timeout=10)


async def authorize(page: Page, slug: str, email: str) -> None:
    """Tenant box, then Swagger's own Authorize dialog (OAuth2 password flow)."""
    await page.locator("#dependable-tenant").fill(slug)
    await page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".dialog-ux .modal-ux")
    await expect(dialog).to_be_visible()
    await dialog.locator("#oauth_username").fill(email)
    await dialog.locator("#oauth_password").fill(PASSWORD)
    await dialog.locator("button.modal-btn.authorize").click()
    # Logged in, the dialog offers "Logout" in place of "Authorize"; a failure says "Auth Error".
    await expect(dialog.locator("button", has_text="Logout")).to_be_visible()
    await expect(dialog).not_to_contain_text("Auth Error")
    await dialog.locator("button.btn-done").click()
    await expect(dialog).to_be_hidden()


async def execute_users_me(page: Page) -> Locator:
    """Expand GET /users/me, "Try it out", "Execute": the operation's block, answered 200."""
    operation = page.locator(f'.opblock-get:has(.opblock-summary-path[data-path="{ME}"])')
    await operation.locator(".opblock-summary").first.click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    status = operation.locator(f"{LIVE_RESPONSE} .response-col_status").first
    await expect(status).to_have_text("200")
    return operation


async def collapse_tags_but(page: Page, tag: str) -> None:
    """Fold every tag's list of operations except `tag`'s, so one picture holds the page's top
    (tenant box, Authorize) and the call."""
    for header in await page.locator("h3.opblock-tag").all():
        if await header.get_attribute("data-tag") != tag:
            await header.click()
    await expect(page.locator(".opblock-tag-section.is-open")).to_have_count(1)


async def search_redoc(page: Page, text: str) -> None:
    """ReDoc's search box, which runs in a Worker of its own: the results list the operation."""
    await page.locator('input[placeholder="Search..."]').fill(text)
    await expect(page.locator('[role="search"] li').first).to_be_visible()


async def take_screenshot(page: Page, last: Locator, path: Path) -> None:
    """The page from its top down to the bottom of `last`."""
    await page.evaluate("window.scrollTo(0, 0)")
    await page.mouse.move(0, 0)  # no hover highlight in the picture
    box = await last.bounding_box()
    assert box is not None
    width = page.viewport_size["width"] if page.viewport_size else 1280
    clip: FloatRect = {"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 6}
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True, clip=clip)


def script_source(policy: str) -> str:
    """The script-src directive of a Content-Security-Policy."""
    [directive] = [part.strip() for part in policy.split(";") if "script-src" in part]
    return directive


def screenshot_path(tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        return DOCS_SCREENSHOT
    return tmp_path / DOCS_SCREENSHOT.name


# Every page reports what its Content-Security-Policy blocked, as the browser saw it.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.reportViolation(event.effectiveDirective, event.blockedURI);
});
"""


@asynccontextmanager
async def chromium(
    base_url: str, outside: list[str], blocked: list[tuple[str, str, str]]
) -> AsyncIterator[BrowserContext]:
    """A fresh context of Debian's Chromium in which every request to anywhere but `base_url` is
    refused and recorded in `outside`, and every CSP violation recorded in `blocked` as (page
    path, directive, blocked URI)."""

    async def report_violation(source: dict[str, Any], directive: str, uri: str) -> None:
        blocked.append((urlsplit(source["page"].url).path, directive, uri))

    async def only_local(route: Route) -> None:
        if route.request.url.startswith(f"{base_url}/"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=UI_TIMEOUT_MS * 3,
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(UI_TIMEOUT_MS)
            context.set_default_navigation_timeout(UI_TIMEOUT_MS)
            await context.route("**/*", only_local)
            await context.expose_binding("reportViolation", report_violation)
            await context.add_init_script(REPORT_VIOLATIONS)
            yield context
        finally:
            await browser.close()


@pytest.mark.usefixtures("engine", "redis")  # migrated database; Redis flushed before and after
async def test_authorize_and_call_users_me_in_swagger(settings: Settings, tmp_path: Path) -> None:
    slug = f"acme-{uuid.uuid4().hex[:8]}"
    screenshot = screenshot_path(tmp_path)
    log = tmp_path / "uvicorn.log"
    outside: list[str] = []  # requests the pages tried to send anywhere but the server
    blocked: list[tuple[str, str, str]] = []  # what the pages' CSP stopped
    policies: dict[str, str] = {}  # page path -> its Content-Security-Policy header
    sent: dict[str, tuple[str, dict[str, str]]] = {}  # path -> (method, headers)
    redoc_title = ""

    def record(request: Request) -> None:
        path = urlsplit(request.url).path
        if path in (TOKEN, ME):
            sent[path] = (request.method, request.headers)

    expect.set_options(timeout=UI_TIMEOUT_MS)
    try:
        async with (
            asyncio.timeout(TEST_SECONDS),
            uvicorn_serving(settings, unused_port(), log) as base,
        ):
            await sign_up(base, slug, EMAIL)
            async with chromium(base, outside, blocked) as context:
                page = await context.new_page()
                page.on("request", record)
                loaded = await page.goto(f"{base}/docs", wait_until="load")
                assert loaded is not None
                policies["/docs"] = await loaded.header_value("content-security-policy") or ""
                await expect(page.locator(".auth-wrapper button.authorize")).to_be_visible()

                await collapse_tags_but(page, "users")
                await authorize(page, slug, EMAIL)
                operation = await execute_users_me(page)

                response = operation.locator(f"{LIVE_RESPONSE} .response-col_description")
                await expect(response.first).to_contain_text(EMAIL)
                body = response.first.locator(".highlight-code").first  # the response body
                await take_screenshot(page, body, screenshot)
                swagger_outside = list(outside)

                # ReDoc renders the same document from the same local assets.
                redoc = await context.new_page()
                loaded = await redoc.goto(f"{base}/redoc", wait_until="load")
                assert loaded is not None
                policies["/redoc"] = await loaded.header_value("content-security-policy") or ""
                await expect(redoc.locator("h2", has_text="Read Me").first).to_be_attached()
                redoc_title = await redoc.locator("h1").first.inner_text()
                await search_redoc(redoc, "users/me")
    except BaseException:
        if log.exists():
            print("uvicorn output:\n" + log.read_text(errors="replace")[-5000:])
        raise
    finally:
        await delete_tenant(settings, slug)

    method, headers = sent[TOKEN]
    assert method == "POST"
    assert headers.get("x-tenant") == slug  # the tenant box reached the token request
    _, headers = sent[ME]
    assert headers.get("authorization", "").startswith("Bearer ")  # Swagger sent the token
    assert swagger_outside == []  # offline: no CDN, no font, no validator
    assert screenshot.stat().st_size > 10_000
    assert redoc_title.startswith("Dependable")
    # Nor ReDoc: its bundle's footer logo from its CDN is stopped by the page's CSP (img-src).
    assert outside == []
    # All of it under the pages' own Content-Security-Policy (app/api/docs.py), which stopped
    # nothing the pages needed: no inline script but by its hash, and only that logo blocked.
    for path in ("/docs", "/redoc"):
        assert "default-src 'none'" in policies[path], path
        assert "'unsafe-inline'" not in script_source(policies[path]), path
    unexpected = [
        (path, directive, uri)
        for path, directive, uri in blocked
        if (path, directive) != ("/redoc", "img-src") or uri.startswith(f"{base}/")
    ]
    assert unexpected == []
