"""`Idempotency-Key` for POST: a dependency claims the key before the endpoint runs, and a
pure ASGI middleware stores the response the endpoint produced. A replay returns the stored
response with `Idempotent-Replayed: true`. Without the header nothing changes.

    dependencies=[IdempotentDep]   on the route
    IdempotencyRecorder            in app/main.py (innermost middleware)
"""

import hashlib
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import RedisDep, ResourcesDep, SettingsDep
from app.api.schemas import Text
from app.auth.dependencies import PrincipalDep, TenantDep
from app.core.idempotency import IdempotencyStore, Outcome, StoredResponse

logger = logging.getLogger("app.idempotency")

CLAIM = "idempotency_claim"


@dataclass(frozen=True, slots=True)
class Claim:
    store: IdempotencyStore
    key: str
    fingerprint: str


class IdempotentReplay(Exception):  # noqa: N818 - not an error: a response to send again
    def __init__(self, response: StoredResponse) -> None:
        self.response = response


async def get_idempotency_store(
    redis: RedisDep, resources: ResourcesDep, settings: SettingsDep
) -> IdempotencyStore:
    return IdempotencyStore(
        redis, resources.redis_circuit, ttl_seconds=settings.idempotency.ttl_seconds
    )


IdempotencyStoreDep = Annotated[IdempotencyStore, Depends(get_idempotency_store)]


async def idempotency(
    request: Request,
    store: IdempotencyStoreDep,
    principal: PrincipalDep,
    tenant: TenantDep,
    idempotency_key: Annotated[
        Text | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Repeat a POST safely: the first response is replayed for 24 hours.",
        ),
    ] = None,
) -> None:
    if idempotency_key is None:
        return
    route = getattr(request.scope.get("route"), "path_format", request.url.path)
    scope_key = hashlib.sha256(idempotency_key.encode()).hexdigest()
    key = f"idempotency:{tenant.id}:{principal.id}:{request.method}:{route}:{scope_key}"
    body = await request.body()  # already read and cached by FastAPI for the endpoint
    # The concrete path is part of the request: the same key for another project's tasks is a
    # different request (422), never a replay of the first one.
    fingerprint = hashlib.sha256(request.url.path.encode() + b"\n" + body).hexdigest()
    outcome = await store.begin(key, fingerprint)
    if outcome is not Outcome.CLAIMED:
        raise IdempotentReplay(outcome)
    request.scope.setdefault("state", {})[CLAIM] = Claim(store, key, fingerprint)


IdempotentDep = Depends(idempotency)


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
    """Stores the response of a request whose key the dependency claimed: kept when below
    500, released (so the client may retry) on a 5xx or an exception."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        status = 500
        headers: list[tuple[str, str]] = []
        body = bytearray()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if scope.get("state", {}).get(CLAIM) is not None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers.extend((k.decode(), v.decode()) for k, v in message["headers"])
                elif message["type"] == "http.response.body":
                    body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            claim: Claim | None = scope.get("state", {}).get(CLAIM)
            if claim is not None:
                await self._settle(claim, StoredResponse(status, headers, bytes(body)))

    @staticmethod
    async def _settle(claim: Claim, response: StoredResponse) -> None:
        try:
            if response.status < 500:
                await claim.store.complete(claim.key, claim.fingerprint, response)
            else:
                await claim.store.release(claim.key)
        except Exception:
            logger.exception("could not settle idempotency key")


def install_idempotency(app: FastAPI) -> None:
    app.add_exception_handler(IdempotentReplay, replay)
    app.add_middleware(IdempotencyRecorder)
