"""Two small helpers shared by the DI proofs: an httpx client over an ASGI app, and an ASGI
wrapper that writes the response messages into the same event list the dependencies write to."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def record_response(app: ASGIApp, events: list[str]) -> ASGIApp:
    """Wrap `app` so that each `send` of the response appends "response.start" or
    "response.body" to `events` at the moment the server would put it on the wire."""

    async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
        async def recording_send(message: Message) -> None:
            kind = str(message["type"])
            if kind.startswith("http.response."):
                events.append(kind.removeprefix("http."))
            await send(message)

        await app(scope, receive, recording_send)

    return recorded


def client_for(app: ASGIApp, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://test")
