"""`resolved` (app/http/outside_request.py): the providers the routes use, resolved outside a
request with FastAPI's semantics: nested graphs, one value per block unless `use_cache=False`,
yield cleanup in reverse order at the end of the block (seeing its exception), overrides, and a
clear refusal of what only a request has. The last tests resolve the app's own providers."""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, Request
from pydantic import SecretStr

from app.auth.dependencies import get_request_context
from app.core.resources import Resources
from app.http.deps import get_resources, get_session
from app.http.outside_request import OutsideRequestError, resolved
from app.identity.models import Role
from app.tenant.dependencies import get_tenant_service
from app.tenant.schemas import SignUpRequest
from app.tenant.service import TenantService
from app.user.dependencies import get_user_service
from app.user.schemas import UserCreate
from app.user.service import UserService


class Graph:
    """A nested graph (service -> repository -> session -> settings) that logs what it does."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.settings_calls = 0

        async def get_settings() -> str:
            self.settings_calls += 1
            self.events.append("settings")
            return "settings"

        async def get_session(
            settings: Annotated[str, Depends(get_settings)],
        ) -> AsyncIterator[str]:
            self.events.append("session open")
            try:
                yield f"session({settings})"
            except ValueError:
                self.events.append("session rolled back")
                raise
            else:
                self.events.append("session committed")
            finally:
                self.events.append("session closed")

        def get_client() -> Iterator[str]:  # a sync generator
            self.events.append("client open")
            yield "client"
            self.events.append("client closed")

        async def get_repository(
            session: Annotated[str, Depends(get_session)],
            client: Annotated[str, Depends(get_client)],
        ) -> str:
            return f"repository({session}, {client})"

        async def get_service(
            repository: Annotated[str, Depends(get_repository)],
            settings: Annotated[str, Depends(get_settings)],
            fresh: Annotated[str, Depends(get_settings, use_cache=False)],
        ) -> str:
            return f"service({repository}, {settings}, {fresh})"

        self.get_settings = get_settings
        self.get_session = get_session
        self.get_service = get_service


async def test_a_nested_graph_resolves_once_per_block_and_closes_in_reverse_order() -> None:
    graph = Graph()

    async with resolved(graph.get_service) as service:
        graph.events.append("work")
        assert service == ("service(repository(session(settings), client), settings, settings)")

    # `settings` is declared three times: cached twice, fresh once (use_cache=False).
    assert graph.settings_calls == 2
    assert graph.events == [
        "settings",
        "session open",
        "client open",
        "settings",
        "work",
        "client closed",
        "session committed",
        "session closed",
    ]


async def test_the_blocks_exception_reaches_the_yield_dependencies() -> None:
    graph = Graph()

    with pytest.raises(ValueError, match="boom"):
        async with resolved(graph.get_service):
            raise ValueError("boom")

    assert "session rolled back" in graph.events
    assert "session committed" not in graph.events
    assert graph.events[-1] == "session closed"


async def test_overrides_replace_a_provider_anywhere_in_the_graph() -> None:
    graph = Graph()

    async def test_settings() -> str:
        return "test settings"

    async with resolved(
        graph.get_service, overrides={graph.get_settings: test_settings}
    ) as service:
        assert service == (
            "service(repository(session(test settings), client), test settings, test settings)"
        )
    assert graph.settings_calls == 0


async def test_given_values_stand_in_for_their_providers() -> None:
    graph = Graph()

    async with resolved(
        graph.get_service, given={graph.get_session: "the caller's session"}
    ) as service:
        assert service.startswith("service(repository(the caller's session, client)")
    assert "session open" not in graph.events


async def test_what_only_a_request_has_is_refused_by_name() -> None:
    async def get_tenant(x_tenant: Annotated[str, Header()]) -> str:
        return x_tenant

    async def get_ip(request: Request) -> str:
        return request.client.host if request.client else ""

    async def needs_both(
        tenant: Annotated[str, Depends(get_tenant)], ip: Annotated[str, Depends(get_ip)]
    ) -> str:
        return tenant + ip

    with pytest.raises(
        OutsideRequestError, match=r"get_tenant needs a request \(header 'x-tenant'\)"
    ):
        async with resolved(needs_both):
            pass
    async with resolved(needs_both, given={get_tenant: "demo", get_ip: "@127.0.0.1"}) as value:
        assert value == "demo@127.0.0.1"


@pytest.fixture
def resources(app: FastAPI) -> Resources:
    """The test app's resources (on the test database, cleaned around each test)."""
    current: Resources = app.state.resources
    return current


async def test_the_apps_own_providers_resolve_from_the_resources(resources: Resources) -> None:
    """A tenant signup through `get_tenant_service`, exactly as the route builds it: the
    session comes from `get_session` and commits when the block ends."""
    async with resolved(get_tenant_service, given={get_resources: resources}) as tenants:
        assert isinstance(tenants, TenantService)
        signup = await tenants.sign_up(
            SignUpRequest(
                name="Outside",
                slug="outside-request",
                email="owner@outside.example",
                password=SecretStr("a long enough password"),
                full_name="Owner",
            )
        )

    async with resolved(get_session, given={get_resources: resources}) as session:
        from app.identity.repository import TenantRepository

        stored = await TenantRepository(session).get(signup.tenant.id)
        assert stored is not None
        assert stored.slug == "outside-request"


async def test_a_request_context_given_resolves_the_domain_providers(resources: Resources) -> None:
    from app.auth.context import acting_as
    from app.identity.schemas import Principal, TenantRead

    async with resolved(get_tenant_service, given={get_resources: resources}) as tenants:
        signup = await tenants.sign_up(
            SignUpRequest(
                name="Acting",
                slug="acting-outside",
                email="owner@acting.example",
                password=SecretStr("a long enough password"),
                full_name="Owner",
            )
        )
    async with resolved(get_session, given={get_resources: resources}) as session:
        context = await acting_as(
            Principal.model_validate(signup.owner),
            TenantRead.model_validate(signup.tenant),
            session,
            resources,
        )
        async with resolved(get_user_service, given={get_request_context: context}) as users:
            assert isinstance(users, UserService)
            created = await users.create(
                UserCreate(
                    email="member@acting.example",
                    password=SecretStr("another long password"),
                    full_name="Member",
                    role=Role.MEMBER,
                )
            )
    assert created.tenant_id == signup.tenant.id
