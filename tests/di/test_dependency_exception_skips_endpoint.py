"""An exception raised in a dependency means the endpoint never runs (FastAPI 0.165), and the
yield dependencies already entered unwind with it. The exception itself is never "returned to
the client" (the article's words): an HTTPException becomes its status and detail, a domain error
becomes whatever its registered handler maps it to, and anything else becomes a bare 500 whose
body reveals nothing, while the exception is re-raised to the server. With a bare app that
re-raise reaches httpx's ASGITransport, so a test needs `raise_app_exceptions=False` to see the
500; the real app has a catch-all (RequestContextMiddleware in app/http/middleware.py) that answers
a problem+json 500 and re-raises nothing, so the ordinary `client` fixture sees it directly."""

from collections.abc import AsyncIterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from httpx import AsyncClient

from app.core.errors import PermissionDeniedError
from app.tenant.dependencies import get_tenant_service
from tests.di.asgi import client_for
from tests.fixtures.factories import signup_body

SECRET = "postgresql://app:hunter2@db/app"


class AccountLockedError(Exception):
    """A domain error: knows nothing about HTTP."""


def build_app(events: list[str]) -> FastAPI:
    async def get_transaction() -> AsyncIterator[str]:
        events.append("begin")
        try:
            yield "tx"
        except Exception as exc:
            events.append(f"rollback ({type(exc).__name__})")
            raise

    async def forbid() -> None:
        events.append("guard")
        raise HTTPException(403, "not allowed")

    async def locked() -> None:
        events.append("guard")
        raise AccountLockedError("account locked")

    async def crash() -> None:
        events.append("guard")
        raise RuntimeError(f"cannot connect to {SECRET}")

    async def locked_handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "account-locked"}, status_code=423)

    transaction = Annotated[str, Depends(get_transaction)]
    app = FastAPI()
    app.add_exception_handler(AccountLockedError, locked_handler)

    # The transaction is declared first, so it is entered before the guard fails.
    @app.get("/http-exception")
    async def http_exception(tx: transaction, guard: Annotated[None, Depends(forbid)]) -> str:
        events.append("endpoint")
        return "unreachable"

    @app.get("/domain-error")
    async def domain_error(tx: transaction, guard: Annotated[None, Depends(locked)]) -> str:
        events.append("endpoint")
        return "unreachable"

    @app.get("/unexpected")
    async def unexpected(tx: transaction, guard: Annotated[None, Depends(crash)]) -> str:
        events.append("endpoint")
        return "unreachable"

    return app


async def test_http_exception_gives_its_status_and_the_endpoint_never_runs() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/http-exception")

    assert response.status_code == 403
    assert response.json() == {"detail": "not allowed"}
    assert events == ["begin", "guard", "rollback (HTTPException)"]


async def test_domain_error_gives_the_mapped_status() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        response = await client.get("/domain-error")

    assert response.status_code == 423
    assert response.json() == {"error": "account-locked"}
    assert events == ["begin", "guard", "rollback (AccountLockedError)"]


async def test_unexpected_exception_reaches_the_test_with_a_bare_app() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        with pytest.raises(RuntimeError, match="cannot connect"):
            await client.get("/unexpected")

    assert events == ["begin", "guard", "rollback (RuntimeError)"]


async def test_unexpected_exception_is_a_bare_500_that_reveals_nothing() -> None:
    events: list[str] = []
    async with client_for(build_app(events), raise_app_exceptions=False) as client:
        response = await client.get("/unexpected")

    # Starlette's ServerErrorMiddleware sent this, then re-raised the exception to the server.
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert SECRET not in response.text
    assert events == ["begin", "guard", "rollback (RuntimeError)"]


class TestTheRealApp:
    """POST /api/v1/tenants with `get_tenant_service` replaced by a failing dependency (its
    subtree, session included, is then never resolved), through the real middleware and
    problem handlers."""

    @pytest.mark.overrides("a dependency that raises")
    async def test_domain_error_is_mapped_to_problem_json(
        self, app: FastAPI, client: AsyncClient
    ) -> None:
        async def refuse() -> None:
            raise PermissionDeniedError("signups are closed")

        app.dependency_overrides[get_tenant_service] = refuse

        response = await client.post("/api/v1/tenants", json=signup_body())

        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "signups are closed"

    @pytest.mark.overrides("a dependency that raises")
    async def test_unexpected_exception_is_a_problem_json_500(
        self, app: FastAPI, client: AsyncClient
    ) -> None:
        async def crash() -> None:
            raise RuntimeError(f"cannot connect to {SECRET}")

        app.dependency_overrides[get_tenant_service] = crash

        # No raise_app_exceptions=False needed: the app's catch-all answered and did not re-raise.
        response = await client.post("/api/v1/tenants", json=signup_body())

        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("internal-error")
        assert SECRET not in response.text
