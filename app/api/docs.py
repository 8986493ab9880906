"""Interactive API docs that work offline: Swagger UI at /docs, ReDoc at /redoc.

FastAPI's built-in pages load Swagger UI and ReDoc from a CDN. These load them from this process:
the `fastapi-offline` package (MIT; its version is pinned in uv.lock) ships the bundles in its
`static` folder, which is served under `/docs-static`. Nothing else of that package is used.
fastapi-offline 1.7.7 carries Swagger UI 5.32.6 and ReDoc 2.5.3; upgrading the package upgrades
them, and tests/api/test_docs.py plus tests/e2e/test_docs_browser.py check the result.

The login route needs the tenant in the `X-Tenant` header, which Swagger's Authorize dialog has no
field for. The Swagger page therefore has a "Tenant" box above the UI (prefilled from `?tenant=`,
remembered in the browser's localStorage), and a `requestInterceptor` adds its value as `X-Tenant`
to the token request Authorize sends. Swagger then sends the bearer token on every call it makes.
See docs/operations.md, "Interactive docs".

Each page sends its own Content-Security-Policy (`page_policy`), allowing exactly what it needs;
everything else the service answers has the API's, which allows nothing
(app/http/security_headers.py). docs/security.md, "HTTP hardening", lists them.

`create_app` calls `install_docs` only when `API__DOCS_ENABLED` (resolved per APP_ENV) is on; with
it off, /docs, /redoc, /docs-static and /openapi.json are all 404.
"""

import base64
import hashlib
import html
import json
import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_swagger_ui_oauth2_redirect_html,
    swagger_ui_default_parameters,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.core.config import Settings

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
STATIC_URL = "/docs-static"
# The package and folder the bundles are served from (Starlette finds it with importlib).
ASSETS_PACKAGE = ("fastapi_offline", "static")
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"

TENANT_STORAGE_KEY = "dependable.docs.tenant"


def _script_json(value: object) -> str:
    """JSON safe to embed in a <script> element: no `</script>` or `<!--` can appear in it."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def password_token_paths(openapi: dict[str, Any]) -> list[str]:
    """The paths of the OAuth2 password flows' token URLs the OpenAPI document declares."""
    schemes = openapi.get("components", {}).get("securitySchemes", {})
    paths = {
        urlsplit(scheme["flows"]["password"]["tokenUrl"]).path
        for scheme in schemes.values()
        if scheme.get("type") == "oauth2" and "password" in scheme.get("flows", {})
    }
    return sorted(paths)


TENANT_BAR = """
<form class="dependable-tenant" id="dependable-tenant-form">
  <label for="dependable-tenant">Tenant</label>
  <input id="dependable-tenant" name="tenant" placeholder="acme" autocomplete="off"
         spellcheck="false">
  <p>To call the API: enter your tenant's slug here (sent as <code>X-Tenant</code> with the
  token request), then press <b>Authorize</b> and log in with your email as
  <i>username</i> and your password (leave <i>client_id</i> and <i>client_secret</i> empty).
  <code>/docs?tenant=acme</code> fills this box in.</p>
</form>
"""

SUBDOMAIN_NOTE = """
<div class="dependable-tenant">
  <p>The tenant comes from the host name (<code>TENANCY__RESOLVER=subdomain</code>): open these
  docs on your tenant's host, press <b>Authorize</b> and log in with your email as
  <i>username</i> and your password.</p>
</div>
"""

STYLE = """
body { margin: 0; }
.dependable-tenant { box-sizing: border-box; max-width: 1460px; margin: 0 auto;
  padding: 16px 20px 0; font-family: sans-serif; color: #3b4151; display: flex;
  flex-wrap: wrap; align-items: center; gap: 4px 12px; }
.dependable-tenant label { font-weight: 700; font-size: 14px; }
.dependable-tenant input { font-size: 14px; padding: 6px 8px; border: 1px solid #d9d9d9;
  border-radius: 4px; width: 14em; }
.dependable-tenant p { margin: 0; font-size: 13px; flex: 1 1 30em; }
"""

# `config` and `tenantPaths` are filled in by the server. The interceptor only touches the token
# request, and only when it carries no X-Tenant yet: the other calls send what their own X-Tenant
# field says (the token names the tenant anyway).
SWAGGER_SCRIPT = """
(function () {
  const config = %(config)s;
  const tenantPaths = %(tenant_paths)s;
  const storageKey = %(storage_key)s;
  const input = document.getElementById("dependable-tenant");
  const form = document.getElementById("dependable-tenant-form");
  // Enter in the box must not submit the form (and reload the page).
  if (form) form.addEventListener("submit", function (event) { event.preventDefault(); });
  function remember(value) {
    try { window.localStorage.setItem(storageKey, value); } catch (error) { /* private mode */ }
  }
  if (input) {
    let stored = "";
    try { stored = window.localStorage.getItem(storageKey) || ""; } catch (error) { /* ignore */ }
    const fromQuery = new URLSearchParams(window.location.search).get("tenant");
    input.value = fromQuery !== null ? fromQuery : stored;
    if (fromQuery !== null) remember(fromQuery);
    input.addEventListener("input", function () { remember(input.value.trim()); });
  }
  if (config.oauth2RedirectUrl) {
    config.oauth2RedirectUrl = window.location.origin + config.oauth2RedirectUrl;
  }
  config.requestInterceptor = function (request) {
    const tenant = input ? input.value.trim() : "";
    const path = new URL(request.url, window.location.href).pathname;
    if (tenant && tenantPaths.some(function (tokenPath) { return path.endsWith(tokenPath); })) {
      request.headers = request.headers || {};
      const named = Object.keys(request.headers).some(function (name) {
        return name.toLowerCase() === "x-tenant";
      });
      if (!named) request.headers["X-Tenant"] = tenant;
    }
    return request;
  };
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  window.ui = SwaggerUIBundle(config);
})();
"""


def source_hash(code: str) -> str:
    """A CSP source allowing exactly this inline script or style (CSP3 hash source)."""
    digest = hashlib.sha256(code.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def page_policy(*, script_src: str, style_src: str, worker_src: str | None = None) -> str:
    """The Content-Security-Policy of a docs page. The API's own policy allows nothing
    (app/http/security_headers.py); these pages set theirs, which the middleware keeps. Common
    to all: nothing from other sites (fonts, CDNs, an online validator), requests to this server
    only, images from it or inline (`data:`: Swagger's icons), no framing, no <base>, no form
    posted anywhere (the tenant box is never submitted)."""
    directives = [
        "default-src 'none'",
        f"script-src {script_src}",
        f"style-src {style_src}",
        "img-src 'self' data:",
        "connect-src 'self'",
        *([f"worker-src {worker_src}"] if worker_src else []),
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def swagger_page(
    app: FastAPI, request: Request, *, openapi_url: str, tenant_header: bool
) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    config: dict[str, Any] = {
        **swagger_ui_default_parameters,
        **(app.swagger_ui_parameters or {}),
        "url": f"{root}{openapi_url}",
        "validatorUrl": None,  # Swagger's default is an online validator: nothing leaves the page
    }
    if app.swagger_ui_oauth2_redirect_url:  # made absolute in the page, as FastAPI's does
        config["oauth2RedirectUrl"] = f"{root}{app.swagger_ui_oauth2_redirect_url}"
    script = SWAGGER_SCRIPT % {
        "config": _script_json(config),
        "tenant_paths": _script_json(password_token_paths(app.openapi())),
        "storage_key": _script_json(TENANT_STORAGE_KEY),
    }
    static = f"{root}{STATIC_URL}"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(app.title)} - Swagger UI</title>
<link rel="stylesheet" href="{static}/{SWAGGER_CSS}">
<link rel="icon" href="{static}/{FAVICON}">
<style>{STYLE}</style>
</head>
<body>
{TENANT_BAR if tenant_header else SUBDOMAIN_NOTE}
<div id="swagger-ui"></div>
<script src="{static}/{SWAGGER_JS}"></script>
<script>{script}</script>
</body>
</html>
"""
    # The page's one inline script and one inline style, by hash: nothing else inline runs.
    policy = page_policy(
        script_src=f"'self' {source_hash(script)}", style_src=f"'self' {source_hash(STYLE)}"
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})


# ReDoc styles itself with <style> elements it writes at run time (styled-components), which no
# hash can name: its styles need 'unsafe-inline' (scripts do not). Its search index runs in a
# Worker built from a blob: URL. The policy also keeps images to this server: ReDoc's bundle shows
# a logo from its CDN in the sidebar's footer (and hides it when it fails to load), which the
# browser then never requests.
REDOC_POLICY = page_policy(
    script_src="'self'", style_src="'self' 'unsafe-inline'", worker_src="blob:"
)


def redoc_page(app: FastAPI, request: Request, *, openapi_url: str) -> HTMLResponse:
    """ReDoc, as FastAPI's page has it minus the web fonts, under `REDOC_POLICY`."""
    root = request.scope.get("root_path", "")
    static = f"{root}{STATIC_URL}"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(app.title)} - ReDoc</title>
<link rel="icon" href="{static}/{FAVICON}">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<noscript>ReDoc needs JavaScript to show the documentation.</noscript>
<redoc spec-url="{html.escape(f"{root}{openapi_url}")}"></redoc>
<script src="{static}/{REDOC_JS}"></script>
</body>
</html>
"""
    return HTMLResponse(page, headers={"Content-Security-Policy": REDOC_POLICY})


def oauth2_redirect_page() -> HTMLResponse:
    """FastAPI's OAuth2 redirect page for Swagger (authorization-code flows), with a policy
    that runs its one inline script."""
    response = get_swagger_ui_oauth2_redirect_html()
    [script] = re.findall(r"<script>(.*?)</script>", bytes(response.body).decode(), re.DOTALL)
    policy = page_policy(script_src=source_hash(script), style_src="'none'")
    response.headers["Content-Security-Policy"] = policy
    return response


def install_docs(app: FastAPI, settings: Settings) -> None:
    """Serve Swagger UI at /docs (plus its OAuth2 redirect page) and ReDoc at /redoc, with their
    assets under /docs-static. Plain Starlette routes, like FastAPI's own docs pages: they are
    not part of the API, its OpenAPI document or its dependency graph."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("The docs pages need the OpenAPI document: create the app with one.")
    tenant_header = settings.tenancy.resolver == "header"
    redirect_url = app.swagger_ui_oauth2_redirect_url
    app.mount(STATIC_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-static")

    async def swagger_ui(request: Request) -> HTMLResponse:
        return swagger_page(app, request, openapi_url=openapi_url, tenant_header=tenant_header)

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return oauth2_redirect_page()

    async def redoc(request: Request) -> HTMLResponse:
        return redoc_page(app, request, openapi_url=openapi_url)

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    if redirect_url:
        app.add_route(redirect_url, swagger_ui_redirect, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
