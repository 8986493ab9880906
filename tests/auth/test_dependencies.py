"""The principal chain under `require_role` (app/auth/dependencies.py) on the real app: the guard
declares its OpenAPI scope on a second, value-less use of the bearer scheme, so the principal keeps
one cache key in the whole graph. On a route whose graph needs `get_principal` under the guard,
under `get_tenant` and as the services' `actor`, the token is verified once and the principal
loaded once per request; only the bearer scheme (a header read) runs twice, once per key. For
contrast, a guard that took its scope on the principal itself (`Security(get_principal,
scopes=[...])`) would give the principal a second cache key, and the token would be verified and
the principal loaded twice."""

import functools
from collections import Counter
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security
from fastapi.security import OAuth2PasswordBearer
from httpx import AsyncClient

from app.auth.dependencies import TenantDep, get_principal, require_role
from app.auth.schemas import Principal
from app.auth.service import PrincipalLoader, TokenVerifier
from app.user.models import Role
from tests.fixtures.auth import Org


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the work behind `get_principal`: token verification, the principal lookup (Redis
    cache-aside, then PostgreSQL), and reads of the bearer token."""
    counter: Counter[str] = Counter()

    def counted(name: str, method: Any) -> Any:
        @functools.wraps(method)  # FastAPI reads the bearer's signature through __wrapped__
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            counter[name] += 1
            return await method(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(PrincipalLoader, "load", counted("load principal", PrincipalLoader.load))
    monkeypatch.setattr(TokenVerifier, "verify", counted("verify token", TokenVerifier.verify))
    monkeypatch.setattr(
        OAuth2PasswordBearer, "__call__", counted("read bearer", OAuth2PasswordBearer.__call__)
    )
    return counter


async def test_principal_is_loaded_once_under_require_role(
    client: AsyncClient, acme: Org, calls: Counter[str]
):
    project_url = f"/api/v1/projects/{acme.project.id}"  # type: ignore[union-attr]
    task_url = f"{project_url}/tasks/{acme.task.id}"  # type: ignore[union-attr]
    requests = [
        ("GET", project_url, None),  # ViewerDep + ProjectDep (its service's actor)
        ("PATCH", task_url, {"title": "Once"}),  # MemberDep + TaskDep + TaskServiceDep
        ("PATCH", task_url, {"title": "Twice"}),  # the principal now comes from Redis
    ]

    per_request = []
    for method, url, body in requests:
        calls.clear()
        response = await client.request(method, url, json=body, headers=acme.member.headers)
        assert response.status_code == 200, response.text
        per_request.append(dict(calls))

    assert per_request == [{"read bearer": 2, "verify token": 1, "load principal": 1}] * 3


async def test_a_principal_taken_under_a_scope_would_be_loaded_twice(
    app: FastAPI, client: AsyncClient, acme: Org, calls: Counter[str]
):
    async def scoped_guard(
        principal: Annotated[Principal, Security(get_principal, scopes=[Role.MEMBER.value])],
        tenant: TenantDep,
    ) -> Principal:
        return principal

    app.dependency_overrides[require_role(Role.MEMBER)] = scoped_guard
    task_url = f"/api/v1/projects/{acme.project.id}/tasks/{acme.task.id}"  # type: ignore[union-attr]

    response = await client.patch(task_url, json={"title": "Twice"}, headers=acme.member.headers)

    assert response.status_code == 200, response.text
    # Keyed (get_principal, ("member",), "") under the guard, (get_principal, (), "") elsewhere.
    assert dict(calls) == {"read bearer": 2, "verify token": 2, "load principal": 2}
