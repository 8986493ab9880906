"""`app.dependency_overrides` (FastAPI 0.165): an override replaces one node deep in the graph
(the original's own sub-dependencies are then not resolved at all), is cached per request like
the original (one call for three dependants), and clearing the overrides restores the original.
Overrides are looked up by the ORIGINAL callable (`dict.get(call)`), so a guard built by a factory
can only be overridden when the factory hands back an equal, hashable callable for the same
arguments: a naive closure factory silently ignores the override; a `functools.cache`d factory or
a guard class with value equality (a frozen dataclass) works. A yield override has no scope of
its own: it takes the scope declared where the original is used (`solve_dependencies` builds the
replacement's `Dependant` with the use site's `scope`). And while the overrides dict is not
empty, every request rebuilds the `Dependant` of every node it visits, overridden or not, each
rebuild walking that node's whole subtree: overrides belong in tests."""

import enum
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.dependencies import utils as dependency_utils

from tests.di.asgi import client_for, record_response


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


Guard = Callable[..., Awaitable[None]]


def require_role_naive(role: Role) -> Guard:
    """Returns a fresh closure on every call: each `require_role_naive(Role.ADMIN)` is a new key."""

    async def guard(x_role: Annotated[str, Header()] = "") -> None:
        if x_role != role:
            raise HTTPException(403, f"{role} required")

    return guard


@functools.cache
def require_role_cached(role: Role) -> Guard:
    """The same closure object for the same role, so an override keyed by it matches."""

    async def guard(x_role: Annotated[str, Header()] = "") -> None:
        if x_role != role:
            raise HTTPException(403, f"{role} required")

    return guard


@dataclass(frozen=True)
class RequireRole:
    """A guard instance; the frozen dataclass gives it `__eq__`/`__hash__` by value."""

    role: Role

    async def __call__(self, x_role: Annotated[str, Header()] = "") -> None:
        if x_role != self.role:
            raise HTTPException(403, f"{self.role} required")


EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def events() -> Iterator[list[str]]:
    EVENTS.clear()
    yield EVENTS
    EVENTS.clear()


async def get_db() -> str:
    EVENTS.append("get_db")
    return "db"


async def get_repository(db: Annotated[str, Depends(get_db)]) -> str:
    EVENTS.append("get_repository")
    return f"repository({db})"


async def get_user_service(repository: Annotated[str, Depends(get_repository)]) -> str:
    EVENTS.append("get_user_service")
    return f"users({repository})"


async def get_order_service(repository: Annotated[str, Depends(get_repository)]) -> str:
    EVENTS.append("get_order_service")
    return f"orders({repository})"


async def get_audit(db: Annotated[str, Depends(get_db)]) -> str:
    EVENTS.append("get_audit")
    return f"audit({db})"


async def fake_db() -> str:
    EVENTS.append("fake_db")
    return "fake"


async def fake_repository() -> str:
    EVENTS.append("fake_repository")
    return "in-memory"


async def allow() -> None:
    """The override a test installs to get past an admin guard."""
    EVENTS.append("allow")


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/service")
    async def service(
        users: Annotated[str, Depends(get_user_service)],
        orders: Annotated[str, Depends(get_order_service)],
        audit: Annotated[str, Depends(get_audit)],
    ) -> list[str]:
        EVENTS.append("endpoint")
        return [users, orders, audit]

    @app.get("/naive", dependencies=[Depends(require_role_naive(Role.ADMIN))])
    async def naive() -> str:
        return "admin area"

    @app.get("/cached", dependencies=[Depends(require_role_cached(Role.ADMIN))])
    async def cached() -> str:
        return "admin area"

    @app.get("/instance", dependencies=[Depends(RequireRole(Role.ADMIN))])
    async def instance() -> str:
        return "admin area"

    return app


async def test_override_replaces_a_deep_node_and_is_called_once_per_request(
    events: list[str],
) -> None:
    app = build_app()
    app.dependency_overrides[get_db] = fake_db

    async with client_for(app) as client:
        response = await client.get("/service")

    assert response.json() == [
        "users(repository(fake))",
        "orders(repository(fake))",
        "audit(fake)",
    ]
    # get_repository and get_audit both need the overridden get_db: one call of fake_db.
    assert events == [
        "fake_db",
        "get_repository",
        "get_user_service",
        "get_order_service",
        "get_audit",
        "endpoint",
    ]


async def test_overriding_a_node_prunes_its_subtree(events: list[str]) -> None:
    app = build_app()
    app.dependency_overrides[get_repository] = fake_repository

    async with client_for(app) as client:
        response = await client.get("/service")

    assert response.json() == ["users(in-memory)", "orders(in-memory)", "audit(db)"]
    # get_db runs only for get_audit, which was not overridden.
    assert events == [
        "fake_repository",
        "get_user_service",
        "get_order_service",
        "get_db",
        "get_audit",
        "endpoint",
    ]


async def test_clearing_overrides_restores_the_original(events: list[str]) -> None:
    app = build_app()
    app.dependency_overrides[get_db] = fake_db
    async with client_for(app) as client:
        overridden = await client.get("/service")
        app.dependency_overrides.clear()
        restored = await client.get("/service")

    assert overridden.json()[2] == "audit(fake)"
    assert restored.json()[2] == "audit(db)"
    assert events == [
        "fake_db",
        "get_repository",
        "get_user_service",
        "get_order_service",
        "get_audit",
        "endpoint",
        "get_db",
        "get_repository",
        "get_user_service",
        "get_order_service",
        "get_audit",
        "endpoint",
    ]


async def test_a_naive_guard_factory_cannot_be_overridden(events: list[str]) -> None:
    app = build_app()
    # A new closure, equal only to itself: the route's guard is a different object.
    app.dependency_overrides[require_role_naive(Role.ADMIN)] = allow

    async with client_for(app) as client:
        response = await client.get("/naive")

    assert require_role_naive(Role.ADMIN) != require_role_naive(Role.ADMIN)
    assert response.status_code == 403  # the override was silently ignored
    assert events == []


async def test_a_cached_guard_factory_can_be_overridden(events: list[str]) -> None:
    app = build_app()
    app.dependency_overrides[require_role_cached(Role.ADMIN)] = allow

    async with client_for(app) as client:
        response = await client.get("/cached")

    assert require_role_cached(Role.ADMIN) is require_role_cached(Role.ADMIN)
    assert response.status_code == 200
    assert events == ["allow"]


async def test_a_guard_class_with_value_equality_can_be_overridden(events: list[str]) -> None:
    app = build_app()
    app.dependency_overrides[RequireRole(Role.ADMIN)] = allow

    async with client_for(app) as client:
        response = await client.get("/instance")

    assert RequireRole(Role.ADMIN) == RequireRole(Role.ADMIN)
    assert response.status_code == 200
    assert events == ["allow"]


async def test_the_guards_refuse_without_an_override() -> None:
    app = build_app()
    async with client_for(app) as client:
        statuses = [(await client.get(path)).status_code for path in ("/naive", "/cached")]
        instance = await client.get("/instance")
        admin = await client.get("/instance", headers={"X-Role": "admin"})

    assert statuses == [403, 403]
    assert (instance.status_code, admin.status_code) == (403, 200)


async def get_clock() -> str:
    """A plain (return) dependency, used without a scope."""
    return "clock"


async def get_session() -> AsyncIterator[str]:
    """A yield dependency, used with scope="function" (like the app's `SessionDep`)."""
    yield "session"


def yield_override(name: str) -> Callable[[], AsyncIterator[str]]:
    async def override() -> AsyncIterator[str]:
        EVENTS.append(f"setup {name}")
        yield name
        EVENTS.append(f"cleanup {name}")

    return override


async def test_a_yield_override_takes_the_scope_of_the_use_site(events: list[str]) -> None:
    app = FastAPI()

    @app.get("/scopes")
    async def scopes(
        clock: Annotated[str, Depends(get_clock)],
        session: Annotated[str, Depends(get_session, scope="function")],
    ) -> list[str]:
        EVENTS.append("endpoint")
        return [clock, session]

    app.dependency_overrides[get_clock] = yield_override("fake clock")
    app.dependency_overrides[get_session] = yield_override("fake session")

    async with client_for(record_response(app, events)) as client:
        response = await client.get("/scopes")

    assert response.json() == ["fake clock", "fake session"]
    # The generator replacing a plain Depends(get_clock) became request-scoped (its cleanup runs
    # after the body); the one replacing Depends(get_session, scope="function") kept that scope.
    assert events == [
        "setup fake clock",
        "setup fake session",
        "endpoint",
        "cleanup fake session",
        "response.start",
        "response.body",
        "cleanup fake clock",
    ]


async def test_a_non_empty_overrides_dict_rebuilds_every_node_per_request(
    events: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = FastAPI()

    @app.get("/chain")
    async def chain(users: Annotated[str, Depends(get_user_service)]) -> str:
        return users

    built: list[str] = []
    original = dependency_utils.get_dependant

    def counting_get_dependant(**kwargs: Any) -> Any:
        built.append(kwargs["call"].__name__)
        return original(**kwargs)

    # solve_dependencies (and get_dependant's own recursion) look the name up in the module.
    monkeypatch.setattr(dependency_utils, "get_dependant", counting_get_dependant)

    async with client_for(app) as client:
        await client.get("/chain")
        without_overrides = list(built)
        built.clear()
        app.dependency_overrides[allow] = allow  # unrelated to this route
        await client.get("/chain")

    assert without_overrides == []
    # get_user_service -> get_repository -> get_db: each node visited is built again with its
    # whole subtree (3 + 2 + 1 builds), although nothing on the route is overridden.
    assert built == [
        "get_user_service",
        "get_repository",
        "get_db",
        "get_repository",
        "get_db",
        "get_db",
    ]
