"""The request context under `require_role` (app/auth/dependencies.py) on the real app: the guard
declares its OpenAPI scope on the bearer scheme beside the context, so the context keeps one cache
key in the whole graph. On a route whose graph takes `get_request_context` under the guard, under
a load-or-404 dependency and under the service provider, the caller is authenticated once per
request and the bearer scheme (a header read, for the OpenAPI scope) runs once. For contrast, a
guard that took its scope on the context itself (`Security(get_request_context, scopes=[...])`)
would give the context a second cache key: authenticated twice, in two transactions."""

import functools
from collections import Counter
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security
from fastapi.security import OAuth2PasswordBearer
from httpx import AsyncClient

from app.auth.context import Authenticator, RequestContext
from app.auth.dependencies import get_request_context, require_role
from app.identity.models import Role
from app.identity.schemas import Principal
from tests.fixtures.auth import Org
from tests.fixtures.paths import USERS


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the work behind `get_request_context` (authentication: token, denylist, principal,
    tenant) and reads of the bearer token."""
    counter: Counter[str] = Counter()

    def counted(name: str, method: Any) -> Any:
        @functools.wraps(method)  # FastAPI reads the bearer's signature through __wrapped__
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            counter[name] += 1
            return await method(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        Authenticator, "authenticate", counted("authenticate", Authenticator.authenticate)
    )
    monkeypatch.setattr(
        OAuth2PasswordBearer, "__call__", counted("read bearer", OAuth2PasswordBearer.__call__)
    )
    return counter


async def test_the_caller_is_authenticated_once_under_require_role(
    client: AsyncClient, acme: Org, calls: Counter[str]
) -> None:
    viewer = f"{USERS}/{acme.viewer.user.id}"
    requests = [
        ("GET", USERS, None),  # AdminDep + UserServiceDep (its service's actor)
        ("PATCH", viewer, {"is_active": True}),  # AdminDep + UserForChangeDep + UserServiceDep
        ("PATCH", viewer, {"is_active": True}),  # the principal now comes from Redis
    ]

    per_request = []
    for method, url, body in requests:
        calls.clear()
        response = await client.request(method, url, json=body, headers=acme.admin.headers)
        assert response.status_code == 200, response.text
        per_request.append(dict(calls))

    assert per_request == [{"read bearer": 1, "authenticate": 1}] * 3


@pytest.mark.overrides("a guard with scopes on the context, for contrast")
async def test_a_context_taken_under_a_scope_would_be_built_twice(
    app: FastAPI, client: AsyncClient, acme: Org, calls: Counter[str]
) -> None:
    async def scoped_guard(
        context: Annotated[
            RequestContext, Security(get_request_context, scopes=[Role.ADMIN.value])
        ],
    ) -> Principal:
        return context.principal

    app.dependency_overrides[require_role(Role.ADMIN)] = scoped_guard

    response = await client.patch(
        f"{USERS}/{acme.viewer.user.id}", json={"is_active": True}, headers=acme.admin.headers
    )

    assert response.status_code == 200, response.text
    # Keyed (get_request_context, ("admin",), "function") under the guard, with () elsewhere.
    assert dict(calls) == {"authenticate": 2}
