"""Cross-origin calls from browsers (`HTTP__CORS_ORIGINS`, docs/security.md): Starlette's
CORSMiddleware, installed only when origins are configured. With none, a browser on another site
gets no `Access-Control-Allow-Origin` and cannot read any answer."""

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

# What the API's routes take and give (DESIGN.md, "API contract"); nothing else is allowed.
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Tenant",
    "X-Request-ID",
    "Idempotency-Key",
    "If-Match",
)
EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)
PREFLIGHT_MAX_AGE_SECONDS = 600


def install_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Answer preflights and add the CORS headers for `origins`; do nothing without any.

    No credentials: the API authenticates with bearer tokens the page sends itself, never with
    cookies, so browsers never attach anything on their own to a cross-origin call."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
