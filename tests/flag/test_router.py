"""/api/v1/flags: per-tenant feature flags, who may read and set them, and the guard they
drive (`require_feature`), whose cached view is dropped after each change commits."""

from typing import Any

import pytest
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy import select

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.flag.models import FeatureFlag
from app.flag.service import flags_key
from app.identity.models import Role, Tenant
from tests.fixtures.auth import Org
from tests.fixtures.demo import FLAGS, bulk_url
from tests.fixtures.problems import assert_problem

BULK_BODY = {"tasks": [{"title": "bulk"}]}


async def stored_flags(factory: SessionFactory, tenant: Tenant) -> list[tuple[str, bool]]:
    async with factory() as session:
        await bind_tenant(session, tenant.id)
        rows = await session.execute(
            select(FeatureFlag.key, FeatureFlag.enabled).order_by(FeatureFlag.key)
        )
        return [(key, enabled) for key, enabled in rows]


async def put_flag(client: AsyncClient, actor: Any, key: str, enabled: bool) -> Any:
    return await client.put(f"{FLAGS}/{key}", json={"enabled": enabled}, headers=actor.headers)


TELLS = ("type", "title", "detail")


class TestListFlags:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_lists_them_sorted_by_key(
        self, client: AsyncClient, acme: Org, role: Role
    ) -> None:
        await put_flag(client, acme.admin, "zeta", True)
        await put_flag(client, acme.admin, "bulk_tasks", False)

        response = await client.get(FLAGS, headers=acme.actors[role].headers)

        assert response.status_code == 200
        assert [(f["key"], f["enabled"]) for f in response.json()] == [
            ("bulk_tasks", False),
            ("zeta", True),
        ]
        assert set(response.json()[0]) == {"key", "enabled", "updated_at"}

    async def test_none_set_is_an_empty_list(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(FLAGS, headers=acme.viewer.headers)
        assert response.status_code == 200
        assert response.json() == []

    async def test_anonymous(self, client: AsyncClient) -> None:
        response = await client.get(FLAGS)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        assert (await put_flag(client, acme.admin, "bulk_tasks", True)).status_code == 200

        response = await client.get(FLAGS, headers=globex.viewer.headers)

        assert response.status_code == 200
        assert response.json() == []

    async def test_naming_another_tenant_is_403(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        """Viewers are the lowest role, so listing is never refused for the role; a token used
        for a tenant it was not issued for is the one 403 this read can answer."""
        response = await client.get(FLAGS, headers={**acme.viewer.headers, "X-Tenant": "globex"})
        assert assert_problem(response, 403)["type"].endswith("tenant-mismatch")


class TestSetFlag:
    @pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
    async def test_admin_and_owner_set_a_flag(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, role: Role
    ) -> None:
        response = await put_flag(client, acme.actors[role], "bulk_tasks", True)

        assert response.status_code == 200, response.text
        assert (response.json()["key"], response.json()["enabled"]) == ("bulk_tasks", True)
        assert await stored_flags(session_factory, acme.tenant) == [("bulk_tasks", True)]

    async def test_setting_again_updates_the_one_row(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await put_flag(client, acme.admin, "bulk_tasks", True)
        response = await put_flag(client, acme.owner, "bulk_tasks", False)
        await put_flag(client, acme.admin, "bulk_tasks", False)  # idempotent

        assert (response.json()["key"], response.json()["enabled"]) == ("bulk_tasks", False)
        assert await stored_flags(session_factory, acme.tenant) == [("bulk_tasks", False)]

    @pytest.mark.parametrize("key", ["a", "bulk_tasks", "v2.beta-ui", "0" + "x" * 63])
    async def test_valid_keys(self, client: AsyncClient, acme: Org, key: str) -> None:
        response = await put_flag(client, acme.admin, key, True)
        assert response.status_code == 200, response.text
        assert response.json()["key"] == key

    @pytest.mark.parametrize(
        "key",
        ["Bulk_tasks", "_bulk", "-bulk", ".bulk", "bulk tasks", "bulk@tasks", "x" * 65, "flag!"],
    )
    async def test_invalid_key_is_422(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, key: str
    ) -> None:
        response = await put_flag(client, acme.admin, key, True)
        body = assert_problem(response, 422)
        assert body["type"] == "urn:problem:dependable:validation-error"
        assert [(e["loc"], e["type"]) for e in body["errors"]] == [
            (["path", "key"], "string_pattern_mismatch")
        ]
        assert await stored_flags(session_factory, acme.tenant) == []

    @pytest.mark.parametrize(
        ("body", "loc", "error_type"),
        [
            ({}, ["body", "enabled"], "missing"),
            ({"enabled": "maybe"}, ["body", "enabled"], "bool_type"),
            # JSON booleans only: lax parsing would have taken these as true and false.
            ({"enabled": "true"}, ["body", "enabled"], "bool_type"),
            ({"enabled": 0}, ["body", "enabled"], "bool_type"),
            ({"enabled": None}, ["body", "enabled"], "bool_type"),
            ({"enabled": True, "tenant_id": "x"}, ["body", "tenant_id"], "extra_forbidden"),
        ],
    )
    async def test_invalid_body_is_422(
        self,
        client: AsyncClient,
        acme: Org,
        session_factory: SessionFactory,
        body: dict[str, Any],
        loc: list[str],
        error_type: str,
    ) -> None:
        response = await client.put(f"{FLAGS}/bulk_tasks", json=body, headers=acme.admin.headers)
        problem = assert_problem(response, 422)
        assert (problem["errors"][0]["loc"], problem["errors"][0]["type"]) == (loc, error_type)
        assert await stored_flags(session_factory, acme.tenant) == []

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, role: Role
    ) -> None:
        response = await put_flag(client, acme.actors[role], "bulk_tasks", True)
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        assert await stored_flags(session_factory, acme.tenant) == []

    async def test_anonymous(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.put(f"{FLAGS}/bulk_tasks", json={"enabled": True})
        assert_problem(response, 401)
        assert await stored_flags(session_factory, acme.tenant) == []

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        """A key names a flag of the caller's own tenant: globex setting `bulk_tasks` sets its
        own, and acme's stays as it was."""
        await put_flag(client, acme.admin, "bulk_tasks", False)

        response = await put_flag(client, globex.admin, "bulk_tasks", True)

        assert response.status_code == 200
        assert await stored_flags(session_factory, acme.tenant) == [("bulk_tasks", False)]
        assert await stored_flags(session_factory, globex.tenant) == [("bulk_tasks", True)]


class TestFeatureGuard:
    async def test_flags_are_per_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        await put_flag(client, acme.admin, "bulk_tasks", True)

        assert (
            await client.post(bulk_url(acme.project), json=BULK_BODY, headers=acme.member.headers)
        ).status_code == 201
        assert_problem(
            await client.post(
                bulk_url(globex.project), json=BULK_BODY, headers=globex.member.headers
            ),
            404,
        )

    async def test_another_flag_does_not_open_the_route(
        self, client: AsyncClient, acme: Org
    ) -> None:
        await put_flag(client, acme.admin, "bulk_tasks_v2", True)
        response = await client.post(
            bulk_url(acme.project), json=BULK_BODY, headers=acme.member.headers
        )
        assert_problem(response, 404)

    async def test_turning_off_closes_the_route_on_the_next_request(
        self, client: AsyncClient, acme: Org, redis: Redis
    ) -> None:
        await put_flag(client, acme.admin, "bulk_tasks", True)
        opened = await client.post(
            bulk_url(acme.project), json=BULK_BODY, headers=acme.member.headers
        )
        assert opened.status_code == 201
        # The guard cached the tenant's flags; turning one off must drop that entry.
        assert await redis.exists(f"cache:{flags_key(acme.tenant.id)}") == 1

        await put_flag(client, acme.admin, "bulk_tasks", False)

        assert await redis.exists(f"cache:{flags_key(acme.tenant.id)}") == 0
        closed = await client.post(
            bulk_url(acme.project), json=BULK_BODY, headers=acme.member.headers
        )
        # Exactly what an unknown path answers: nothing tells the route exists.
        assert {k: v for k, v in assert_problem(closed, 404).items() if k in TELLS} == {
            "type": "about:blank",
            "title": "Not Found",
            "detail": "Not Found",
        }

    async def test_turning_on_opens_the_route_on_the_next_request(
        self, client: AsyncClient, acme: Org
    ) -> None:
        # A first request caches "off".
        closed = await client.post(
            bulk_url(acme.project), json=BULK_BODY, headers=acme.member.headers
        )
        assert_problem(closed, 404)

        await put_flag(client, acme.admin, "bulk_tasks", True)

        opened = await client.post(
            bulk_url(acme.project), json=BULK_BODY, headers=acme.member.headers
        )
        assert opened.status_code == 201

    async def test_refused_change_leaves_the_cache_alone(
        self, client: AsyncClient, acme: Org, redis: Redis
    ) -> None:
        await put_flag(client, acme.admin, "bulk_tasks", True)
        await client.post(bulk_url(acme.project), json=BULK_BODY, headers=acme.member.headers)

        refused = await put_flag(client, acme.member, "bulk_tasks", False)

        assert_problem(refused, 403)
        assert await redis.exists(f"cache:{flags_key(acme.tenant.id)}") == 1
        again = await client.post(
            bulk_url(acme.project), json=BULK_BODY, headers=acme.member.headers
        )
        assert again.status_code == 201
