"""/api/v1/users: who may read, add, change and remove whom."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.core.db import SessionFactory
from app.identity.models import Role
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.factories import create_user
from tests.fixtures.paths import USERS
from tests.fixtures.problems import assert_problem


def new_user(role: str = "member", **fields: str) -> dict[str, str]:
    return {
        "email": fields.get("email", f"new-{role}@acme.example.com"),
        "password": "a long enough password",
        "full_name": "New Person",
        "role": role,
    }


class TestMe:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_reads_itself(
        self, client: AsyncClient, acme: Org, role: Role
    ) -> None:
        actor = acme.actors[role]
        response = await client.get(f"{USERS}/me", headers=actor.headers)
        assert response.status_code == 200
        assert response.json()["id"] == str(actor.user.id)
        assert response.json()["role"] == role.value
        assert "password" not in response.text

    async def test_anonymous(self, client: AsyncClient) -> None:
        response = await client.get(f"{USERS}/me")
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


class TestList:
    async def test_admin_and_owner_see_their_tenant_only(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        for actor in (acme.admin, acme.owner):
            response = await client.get(USERS, headers=actor.headers)
            assert response.status_code == 200
            assert {u["tenant_id"] for u in response.json()} == {str(acme.tenant.id)}
            assert len(response.json()) == 4

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_insufficient_role(self, client: AsyncClient, acme: Org, role: Role) -> None:
        response = await client.get(USERS, headers=acme.actors[role].headers)
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")

    async def test_anonymous(self, client: AsyncClient) -> None:
        assert_problem(await client.get(USERS), 401)


class TestCreate:
    @pytest.mark.parametrize("role", ["member", "viewer"])
    async def test_admin_adds_members_and_viewers(
        self, client: AsyncClient, acme: Org, role: str
    ) -> None:
        response = await client.post(USERS, json=new_user(role), headers=acme.admin.headers)
        assert response.status_code == 201, response.text
        assert response.json()["role"] == role
        assert response.json()["tenant_id"] == str(acme.tenant.id)

    async def test_only_an_owner_adds_an_admin(self, client: AsyncClient, acme: Org) -> None:
        by_admin = await client.post(USERS, json=new_user("admin"), headers=acme.admin.headers)
        assert assert_problem(by_admin, 403)["type"].endswith("owner-required")
        by_owner = await client.post(USERS, json=new_user("admin"), headers=acme.owner.headers)
        assert by_owner.status_code == 201

    async def test_owner_role_cannot_be_created(self, client: AsyncClient, acme: Org) -> None:
        response = await client.post(USERS, json=new_user("owner"), headers=acme.owner.headers)
        assert_problem(response, 422)

    async def test_duplicate_email_is_409_case_insensitively(
        self, client: AsyncClient, acme: Org
    ) -> None:
        email = acme.member.user.email.upper()
        response = await client.post(USERS, json=new_user(email=email), headers=acme.admin.headers)
        assert assert_problem(response, 409)["type"].endswith("email-taken")

    async def test_same_email_in_another_tenant_is_fine(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        email = globex.member.user.email
        response = await client.post(USERS, json=new_user(email=email), headers=acme.admin.headers)
        assert response.status_code == 201

    async def test_the_password_rule_of_the_settings_applies(
        self, app: FastAPI, client: AsyncClient, acme: Org
    ) -> None:
        settings = app.state.resources.settings
        strict = settings.auth.model_copy(update={"password_min_length": 30})
        use_resources(app, settings=settings.model_copy(update={"auth": strict}))

        response = await client.post(USERS, json=new_user(), headers=acme.admin.headers)

        assert assert_problem(response, 422)["type"].endswith("weak-password")
        assert "30 characters" in response.json()["detail"]
        assert len((await client.get(USERS, headers=acme.admin.headers)).json()) == 4

    async def test_tenant_cannot_be_smuggled_in(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        body = {**new_user(), "tenant_id": str(globex.tenant.id)}
        response = await client.post(USERS, json=body, headers=acme.admin.headers)
        assert assert_problem(response, 422)["errors"][0]["type"] == "extra_forbidden"

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_insufficient_role(self, client: AsyncClient, acme: Org, role: Role) -> None:
        response = await client.post(USERS, json=new_user(), headers=acme.actors[role].headers)
        assert_problem(response, 403)

    async def test_anonymous(self, client: AsyncClient) -> None:
        assert_problem(await client.post(USERS, json=new_user()), 401)


class TestUpdate:
    async def test_admin_changes_a_member(self, client: AsyncClient, acme: Org) -> None:
        response = await client.patch(
            f"{USERS}/{acme.member.user.id}",
            json={"role": "viewer", "is_active": False},
            headers=acme.admin.headers,
        )
        assert response.status_code == 200
        assert (response.json()["role"], response.json()["is_active"]) == ("viewer", False)

    async def test_role_change_reaches_the_next_request(
        self, client: AsyncClient, acme: Org
    ) -> None:
        """The cached principal is invalidated after the commit: the demotion bites at once."""
        assert (await client.get(USERS, headers=acme.admin.headers)).status_code == 200
        demoted = await client.patch(
            f"{USERS}/{acme.admin.user.id}", json={"role": "member"}, headers=acme.owner.headers
        )
        assert demoted.status_code == 200
        assert_problem(await client.get(USERS, headers=acme.admin.headers), 403)

    async def test_deactivated_user_is_locked_out(self, client: AsyncClient, acme: Org) -> None:
        assert (await client.get(f"{USERS}/me", headers=acme.member.headers)).status_code == 200
        await client.patch(
            f"{USERS}/{acme.member.user.id}", json={"is_active": False}, headers=acme.admin.headers
        )
        assert_problem(await client.get(f"{USERS}/me", headers=acme.member.headers), 401)

    @pytest.mark.parametrize(
        ("target", "body"),
        [
            ("member", {"role": "admin"}),
            ("admin", {"role": "member"}),
            ("admin", {"is_active": False}),
        ],
    )
    async def test_only_an_owner_promotes_or_demotes_admins(
        self, client: AsyncClient, acme: Org, target: str, body: dict[str, object]
    ) -> None:
        user_id = acme.actors[Role(target)].user.id
        by_admin = await client.patch(f"{USERS}/{user_id}", json=body, headers=acme.admin.headers)
        assert_problem(by_admin, 403)
        by_owner = await client.patch(f"{USERS}/{user_id}", json=body, headers=acme.owner.headers)
        assert by_owner.status_code == 200

    async def test_last_owner_cannot_be_demoted_or_deactivated(
        self, client: AsyncClient, acme: Org
    ) -> None:
        owner = f"{USERS}/{acme.owner.user.id}"
        for body in ({"role": "admin"}, {"is_active": False}):
            response = await client.patch(owner, json=body, headers=acme.owner.headers)
            assert assert_problem(response, 409)["type"].endswith("last-owner")

    async def test_an_owner_may_step_down_when_another_remains(
        self,
        client: AsyncClient,
        acme: Org,
        session_factory: SessionFactory,
        password_hash: str,
    ) -> None:
        await create_user(
            session_factory, acme.tenant, role=Role.OWNER, password_hash=password_hash
        )
        response = await client.patch(
            f"{USERS}/{acme.owner.user.id}", json={"role": "admin"}, headers=acme.owner.headers
        )
        assert response.status_code == 200

    async def test_unknown_role_and_unknown_field_are_422(
        self, client: AsyncClient, acme: Org
    ) -> None:
        path = f"{USERS}/{acme.member.user.id}"
        assert_problem(
            await client.patch(path, json={"role": "god"}, headers=acme.owner.headers), 422
        )
        assert_problem(
            await client.patch(path, json={"email": "x@y.example"}, headers=acme.owner.headers), 422
        )

    async def test_unknown_id_is_404(self, client: AsyncClient, acme: Org) -> None:
        response = await client.patch(
            f"{USERS}/00000000-0000-4000-8000-000000000000", json={}, headers=acme.admin.headers
        )
        assert_problem(response, 404)

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_insufficient_role(self, client: AsyncClient, acme: Org, role: Role) -> None:
        response = await client.patch(
            f"{USERS}/{acme.viewer.user.id}",
            json={"role": "member"},
            headers=acme.actors[role].headers,
        )
        assert_problem(response, 403)

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        response = await client.patch(
            f"{USERS}/{acme.member.user.id}", json={"role": "viewer"}, headers=globex.owner.headers
        )
        assert_problem(response, 404)


class TestDelete:
    async def test_admin_removes_a_member(self, client: AsyncClient, acme: Org) -> None:
        path = f"{USERS}/{acme.member.user.id}"
        assert (await client.delete(path, headers=acme.admin.headers)).status_code == 204
        assert_problem(await client.delete(path, headers=acme.admin.headers), 404)
        assert_problem(await client.get(f"{USERS}/me", headers=acme.member.headers), 401)

    async def test_only_an_owner_removes_an_admin(self, client: AsyncClient, acme: Org) -> None:
        path = f"{USERS}/{acme.admin.user.id}"
        assert_problem(await client.delete(path, headers=acme.admin.headers), 403)
        assert (await client.delete(path, headers=acme.owner.headers)).status_code == 204

    async def test_last_owner_cannot_be_removed(self, client: AsyncClient, acme: Org) -> None:
        response = await client.delete(f"{USERS}/{acme.owner.user.id}", headers=acme.owner.headers)
        assert_problem(response, 409)

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    async def test_insufficient_role(self, client: AsyncClient, acme: Org, role: Role) -> None:
        response = await client.delete(
            f"{USERS}/{acme.viewer.user.id}", headers=acme.actors[role].headers
        )
        assert_problem(response, 403)

    async def test_anonymous(self, client: AsyncClient, acme: Org) -> None:
        assert_problem(await client.delete(f"{USERS}/{acme.viewer.user.id}"), 401)

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        response = await client.delete(
            f"{USERS}/{acme.member.user.id}", headers=globex.owner.headers
        )
        assert_problem(response, 404)
