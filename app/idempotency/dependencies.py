"""`Idempotency-Key` for POST: a dependency claims the key in the request's own transaction
before the endpoint runs, and a pure ASGI middleware stores the response the endpoint produced.
A replay returns the stored response with `Idempotent-Replayed: true`. Without the header
nothing changes. The rules (PostgreSQL decides, Redis only speeds up) are in
`app/idempotency/service.py`.

    dependencies=[Depends(idempotency)]   on the route
    IdempotencyRecorder            in app/main.py (innermost middleware)
"""

import hashlib
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.dependencies import RequestContextDep
from app.core.errors import raises
from app.http.schemas import Text
from app.idempotency.cache import IdempotencyCache, StoredResponse
from app.idempotency.exceptions import (
    IdempotencyInFlightError,
    IdempotencyKeyReusedError,
    IdempotencyResponseNotRecordedError,
)
from app.idempotency.repository import IdempotencyKeyRepository
from app.idempotency.service import Claim, IdempotencyStore

logger = logging.getLogger("app.idempotency")

CLAIM = "idempotency_claim"


@dataclass(frozen=True, slots=True)
class Recording:
    """What the recorder needs after the response: the store and this request's claim."""

    store: IdempotencyStore
    claim: Claim


class IdempotentReplay(Exception):  # noqa: N818 - not an error: a response to send again
    def __init__(self, response: StoredResponse) -> None:
        self.response = response


async def get_idempotency_store(context: RequestContextDep) -> IdempotencyStore:
    """The claim goes through the request's session, so it commits (or not) with the write."""
    resources = context.resources
    ttl = resources.settings.idempotency.ttl_seconds
    return IdempotencyStore(
        IdempotencyKeyRepository(context.session, context.tenant_id),
        IdempotencyCache(resources.redis, resources.redis_circuit, ttl_seconds=ttl),
        resources.session_factory,
        ttl_seconds=ttl,
    )


IdempotencyStoreDep = Annotated[IdempotencyStore, Depends(get_idempotency_store)]


@raises(IdempotencyKeyReusedError, IdempotencyInFlightError, IdempotencyResponseNotRecordedError)
async def idempotency(
    request: Request,
    store: IdempotencyStoreDep,
    context: RequestContextDep,
    idempotency_key: Annotated[
        Text | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Repeat a POST safely: it runs once, and its first response is "
            "replayed for 24 hours.",
        ),
    ] = None,
) -> None:
    if idempotency_key is None:
        return
    route = getattr(request.scope.get("route"), "path_format", request.url.path)
    body = await request.body()  # already read and cached by FastAPI for the endpoint
    # The concrete path is part of the request: the same key for another parent's children is a
    # different request (422), never a replay of the first one.
    fingerprint = hashlib.sha256(request.url.path.encode() + b"\n" + body).hexdigest()
    outcome = await store.begin(
        scope=f"{context.principal.id}:{request.method}:{route}",
        key=idempotency_key,
        fingerprint=fingerprint,
    )
    if isinstance(outcome, StoredResponse):
        raise IdempotentReplay(outcome)
    request.scope.setdefault("state", {})[CLAIM] = Recording(store, outcome)


async def replay(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, IdempotentReplay):  # registered for IdempotentReplay only
        raise exc
    stored = exc.response
    response = Response(content=stored.body, status_code=stored.status)
    for name, value in stored.headers:
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


class IdempotencyRecorder:
    """Hands the response of a request whose key the dependency claimed to the store: kept when
    the write committed and the status is below 500; otherwise the key is let go.

    It does so before the response's last body message goes out, so a client that has the whole
    response and retries at once (on this replica or on another behind a balancer) gets the
    replay, never a 409 for a request that is, as far as it can tell, finished. A response that
    never completes (the app raised) is settled when the app returns."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        status = 500
        headers: list[tuple[str, str]] = []
        body = bytearray()
        settled = False

        async def settle() -> None:
            nonlocal settled
            recording: Recording | None = scope.get("state", {}).get(CLAIM)
            if recording is not None and not settled:
                settled = True
                await self._settle(recording, StoredResponse(status, headers, bytes(body)))

        async def recording_send(message: Message) -> None:
            nonlocal status
            if scope.get("state", {}).get(CLAIM) is not None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers.extend((k.decode(), v.decode()) for k, v in message["headers"])
                elif message["type"] == "http.response.body":
                    body.extend(message.get("body", b""))
                    if not message.get("more_body", False):
                        await settle()
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            await settle()

    @staticmethod
    async def _settle(recording: Recording, response: StoredResponse) -> None:
        try:
            await recording.store.complete(recording.claim, response)
        except Exception:
            # The write is safe either way: its committed key row stops it from running again.
            logger.exception("could not settle idempotency key")


def install_idempotency(app: FastAPI) -> None:
    app.add_exception_handler(IdempotentReplay, replay)
    app.add_middleware(IdempotencyRecorder)
