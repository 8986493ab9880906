"""Security headers on every HTTP response, errors included (pure ASGI, as in middleware.py).

The API answers JSON, never a page, so its Content-Security-Policy allows nothing at all: should a
browser ever render a response (a problem+json reflecting a path, say), no script, style, frame or
request runs from it, and no site can frame it. A response that sets its own policy keeps it: the
interactive docs pages do (app/api/docs.py), with exactly what Swagger UI and ReDoc need.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"


def security_headers(*, hsts_max_age_seconds: int | None) -> dict[str, str]:
    """The headers every response gets unless it set them itself. `hsts_max_age_seconds` is None
    unless the service is reached over HTTPS only: HSTS over plain HTTP would promise what the
    service cannot keep (and browsers ignore it there anyway)."""
    headers = {
        "Content-Security-Policy": API_CONTENT_SECURITY_POLICY,
        # Never guess a type: a JSON body is not run as a script or shown as HTML.
        "X-Content-Type-Options": "nosniff",
        # URLs carry ids and cursors: no page that links somewhere passes them on.
        "Referrer-Policy": "no-referrer",
    }
    if hsts_max_age_seconds is not None:
        headers["Strict-Transport-Security"] = f"max-age={hsts_max_age_seconds}"
    return headers


class SecurityHeadersMiddleware:
    """Adds `security_headers(...)` to every HTTP response that lacks them. Installed outermost
    (app/main.py), so that the 500 of RequestContextMiddleware, the 400 of the host check and
    the 413 of the body limit get them as well as the routes' answers."""

    def __init__(self, app: ASGIApp, *, hsts_max_age_seconds: int | None) -> None:
        self.app = app
        self.headers = security_headers(hsts_max_age_seconds=hsts_max_age_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
