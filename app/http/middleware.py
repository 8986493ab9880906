"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs an asyncio task and breaks context
variables)."""

import logging
import re
import uuid
from http import HTTPStatus

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.context import request_id_var, tenant_id_var, user_id_var
from app.http.problems import problem, unexpected_error_response

logger = logging.getLogger("app.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


class RequestContextMiddleware:
    """Gives every HTTP request an id (echoed when the caller sent a sane one), puts it in the
    log context, `request.state.request_id` and the `X-Request-ID` response header, and turns an
    exception nobody handled into a problem+json 500 (logged here, with its traceback, once)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        # Tenant and user start empty for each request (the auth dependencies set them): nothing
        # from an earlier request run in the same context (as tests do) leaks into these logs.
        tenant_token = tenant_id_var.set(None)
        user_token = user_id_var.set(None)
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            logger.exception("Unhandled error on %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            response = unexpected_error_response(scope["path"], request_id)
            await response(scope, receive, send_with_request_id)
        finally:
            user_id_var.reset(user_token)
            tenant_id_var.reset(tenant_token)
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with a problem+json 413: at once when the declared
    Content-Length is too large, or as soon as a streamed body crosses the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = problem(
                status=413,
                code=None,
                title=HTTPStatus(413).phrase,
                detail=self._detail(),
                instance=scope["path"],
                request_id=scope.get("state", {}).get("request_id"),
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return

        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the endpoint's body read. FastAPI passes an HTTPException
                    # through (anything else there becomes a 400), and the problem handler
                    # renders it like the early answer above.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, receive_within_limit, send)

    def _detail(self) -> str:
        return f"The request body exceeds the limit of {self.max_bytes} bytes."


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
