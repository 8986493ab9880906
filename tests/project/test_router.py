"""/api/v1/projects: reads, writes, validation, roles, tenant isolation, ETags and If-Match,
and keyset pagination over the real PostgreSQL and Redis."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.identity.models import Role
from app.project.models import Project
from app.task.models import Task
from tests.fixtures.auth import Org
from tests.fixtures.demo import PROJECTS, create_project, project_url
from tests.fixtures.problems import assert_problem, field_error
from tests.fixtures.rows import count, find, stored


async def tasks_of_project(factory: SessionFactory, org: Org) -> int:
    """How many tasks the org's project has in PostgreSQL now."""
    return await count(factory, org.tenant, Task, Task.project_id == org.project.id)


class TestListProjects:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_reads_the_tenants_projects(
        self, client: AsyncClient, acme: Org, role: Role
    ) -> None:
        response = await client.get(PROJECTS, headers=acme.actors[role].headers)

        assert response.status_code == 200
        assert response.json() == {
            "items": [
                {
                    "id": str(acme.project.id),
                    "name": "acme roadmap",
                    "description": "",
                    "created_by": None,
                    "version": 1,
                    "created_at": response.json()["items"][0]["created_at"],
                    "updated_at": response.json()["items"][0]["updated_at"],
                }
            ],
            "next_cursor": None,
        }

    async def test_anonymous(self, client: AsyncClient) -> None:
        response = await client.get(PROJECTS)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        response = await client.get(PROJECTS, headers=globex.viewer.headers)

        assert response.status_code == 200
        assert [p["name"] for p in response.json()["items"]] == ["globex roadmap"]

    async def test_naming_another_tenant_is_403(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        """Viewers are the lowest role, so no read is refused for its role; the one 403 a read
        can answer is a token used for a tenant it was not issued for."""
        headers = {**acme.viewer.headers, "X-Tenant": "globex"}
        response = await client.get(PROJECTS, headers=headers)
        assert assert_problem(response, 403)["type"].endswith("tenant-mismatch")


class TestPagination:
    async def test_walks_every_page_without_duplicates_or_gaps(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        # Three timestamps shared by several rows each, so the id tie-breaker is exercised too.
        base = datetime(2000, 1, 1, tzinfo=UTC)
        for i in range(25):
            await create_project(
                session_factory, acme.tenant, created_at=base + timedelta(minutes=i % 3)
            )
        await create_project(session_factory, globex.tenant, created_at=base)
        async with session_factory() as session:
            await bind_tenant(session, acme.tenant.id)
            expected = [
                str(p.id)
                for p in await session.scalars(
                    select(Project)
                    .where(Project.tenant_id == acme.tenant.id)
                    .order_by(Project.created_at, Project.id)
                )
            ]
        assert len(expected) == 26

        seen: list[str] = []
        sizes: list[int] = []
        cursor: str | None = None
        for _ in range(10):  # a bound, so a cursor that never ends fails instead of hanging
            params: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor else {})
            response = await client.get(PROJECTS, params=params, headers=acme.viewer.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            seen += [p["id"] for p in page["items"]]
            sizes.append(len(page["items"]))
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert sizes == [10, 10, 6]
        assert seen == expected

    async def test_exactly_full_last_page_has_no_next_cursor(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await create_project(session_factory, acme.tenant)  # two projects in all
        response = await client.get(PROJECTS, params={"limit": 2}, headers=acme.viewer.headers)
        assert len(response.json()["items"]) == 2
        assert response.json()["next_cursor"] is None

    async def test_default_limit_is_20(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        for _ in range(21):
            await create_project(session_factory, acme.tenant)
        response = await client.get(PROJECTS, headers=acme.viewer.headers)
        assert len(response.json()["items"]) == 20
        assert response.json()["next_cursor"] is not None

    @pytest.mark.parametrize(
        ("limit", "error_type"),
        [("0", "greater_than_equal"), ("101", "less_than_equal"), ("abc", "int_parsing")],
    )
    async def test_limit_out_of_range_is_422(
        self, client: AsyncClient, acme: Org, limit: str, error_type: str
    ) -> None:
        response = await client.get(PROJECTS, params={"limit": limit}, headers=acme.viewer.headers)
        assert field_error(response) == (["query", "limit"], error_type)

    async def test_tampered_cursor_is_422(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await create_project(session_factory, acme.tenant)
        first = await client.get(PROJECTS, params={"limit": 1}, headers=acme.viewer.headers)
        cursor = first.json()["next_cursor"]
        # Flip the payload's first character: its first byte changes, so the HMAC no longer
        # matches. (A flip in the last character can land in base64's unused padding bits.)
        tampered = ("B" if cursor[0] != "B" else "C") + cursor[1:]

        response = await client.get(
            PROJECTS, params={"limit": 1, "cursor": tampered}, headers=acme.viewer.headers
        )

        body = assert_problem(response, 422)
        assert body["type"] == "urn:problem:dependable:invalid-cursor"
        assert body["detail"] == "The cursor was not issued by this server."

    @pytest.mark.parametrize("cursor", ["garbage", "a.b.c", "Zm9v.YmFy", "ü.ü"])
    async def test_garbage_cursor_is_422(self, client: AsyncClient, acme: Org, cursor: str) -> None:
        response = await client.get(
            PROJECTS, params={"cursor": cursor}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 422)["type"] == "urn:problem:dependable:invalid-cursor"

    async def test_overlong_cursor_is_422(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(
            PROJECTS, params={"cursor": "a" * 513}, headers=acme.viewer.headers
        )
        assert field_error(response) == (["query", "cursor"], "string_too_long")


class TestCreateProject:
    async def test_member_creates(self, client: AsyncClient, acme: Org) -> None:
        response = await client.post(
            PROJECTS,
            json={"name": "Launch", "description": "Ship it"},
            headers=acme.member.headers,
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["etag"] == '"1"'
        assert (body["name"], body["description"], body["version"]) == ("Launch", "Ship it", 1)
        assert body["created_by"] == str(acme.member.user.id)
        # Both come from clock_timestamp() in the same INSERT: a fresh row was never updated.
        assert body["updated_at"] >= body["created_at"]
        assert set(body) == {
            "id",
            "name",
            "description",
            "created_by",
            "version",
            "created_at",
            "updated_at",
        }

    async def test_created_project_is_readable(self, client: AsyncClient, acme: Org) -> None:
        created = await client.post(PROJECTS, json={"name": "Launch"}, headers=acme.admin.headers)
        read = await client.get(f"{PROJECTS}/{created.json()['id']}", headers=acme.viewer.headers)
        assert read.status_code == 200
        assert read.json() == created.json()

    async def test_name_is_stripped_and_200_characters_is_the_maximum(
        self, client: AsyncClient, acme: Org
    ) -> None:
        name = "x" * 200
        response = await client.post(
            PROJECTS, json={"name": f"  {name}  "}, headers=acme.member.headers
        )
        assert response.status_code == 201
        assert response.json()["name"] == name

    @pytest.mark.parametrize(
        ("body", "loc", "error_type"),
        [
            ({"name": ""}, ["body", "name"], "string_too_short"),
            ({"name": "   "}, ["body", "name"], "string_too_short"),
            ({"name": "x" * 201}, ["body", "name"], "string_too_long"),
            ({}, ["body", "name"], "missing"),
            ({"name": None}, ["body", "name"], "string_type"),
            ({"name": 42}, ["body", "name"], "string_type"),
            ({"name": "ok", "description": ["a"]}, ["body", "description"], "string_type"),
            (
                {"name": "ok", "description": "x" * 10_001},
                ["body", "description"],
                "string_too_long",
            ),
            ({"name": "ok", "color": "red"}, ["body", "color"], "extra_forbidden"),
            ({"name": "ok", "version": 9}, ["body", "version"], "extra_forbidden"),
            (["name"], ["body"], "model_attributes_type"),
        ],
    )
    async def test_invalid_body_is_422(
        self,
        client: AsyncClient,
        acme: Org,
        body: Any,
        loc: list[Any],
        error_type: str,
    ) -> None:
        response = await client.post(PROJECTS, json=body, headers=acme.member.headers)
        assert field_error(response) == (loc, error_type)
        listed = await client.get(PROJECTS, headers=acme.member.headers)
        assert len(listed.json()["items"]) == 1

    async def test_duplicate_name_in_tenant_is_409(self, client: AsyncClient, acme: Org) -> None:
        response = await client.post(
            PROJECTS, json={"name": "acme roadmap"}, headers=acme.member.headers
        )
        body = assert_problem(response, 409)
        assert body["type"] == "urn:problem:dependable:project-name-taken"
        listed = await client.get(PROJECTS, headers=acme.member.headers)
        assert [p["name"] for p in listed.json()["items"]] == ["acme roadmap"]

    async def test_same_name_in_another_tenant_is_fine(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        response = await client.post(
            PROJECTS, json={"name": "globex roadmap"}, headers=acme.member.headers
        )
        assert response.status_code == 201

    async def test_insufficient_role(self, client: AsyncClient, acme: Org) -> None:
        response = await client.post(PROJECTS, json={"name": "Nope"}, headers=acme.viewer.headers)
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        listed = await client.get(PROJECTS, headers=acme.viewer.headers)
        assert len(listed.json()["items"]) == 1

    async def test_anonymous(self, client: AsyncClient) -> None:
        assert_problem(await client.post(PROJECTS, json={"name": "Nope"}), 401)

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        """A collection has no other tenant's id to guess: the tenant cannot be smuggled in."""
        body = {"name": "Planted", "tenant_id": str(acme.tenant.id)}
        response = await client.post(PROJECTS, json=body, headers=globex.member.headers)
        assert field_error(response) == (["body", "tenant_id"], "extra_forbidden")
        listed = await client.get(PROJECTS, headers=acme.viewer.headers)
        assert [p["name"] for p in listed.json()["items"]] == ["acme roadmap"]


class TestReadProject:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_reads_with_etag(
        self, client: AsyncClient, acme: Org, role: Role
    ) -> None:
        response = await client.get(project_url(acme.project), headers=acme.actors[role].headers)

        assert response.status_code == 200
        assert response.headers["etag"] == '"1"'
        assert response.json()["id"] == str(acme.project.id)
        assert response.json()["name"] == "acme roadmap"
        assert response.json()["version"] == 1

    async def test_unknown_id_is_404(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(f"{PROJECTS}/{uuid.uuid4()}", headers=acme.viewer.headers)
        assert assert_problem(response, 404)["type"] == "urn:problem:dependable:project-not-found"

    async def test_malformed_id_is_422(self, client: AsyncClient, acme: Org) -> None:
        response = await client.get(f"{PROJECTS}/not-a-uuid", headers=acme.viewer.headers)
        assert field_error(response) == (["path", "project_id"], "uuid_parsing")

    async def test_anonymous(self, client: AsyncClient, acme: Org) -> None:
        assert_problem(await client.get(project_url(acme.project)), 401)

    async def test_other_tenant(self, client: AsyncClient, acme: Org, globex: Org) -> None:
        response = await client.get(project_url(acme.project), headers=globex.owner.headers)
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert "acme roadmap" not in response.text


class TestUpdateProject:
    async def test_member_renames_and_version_increments(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.patch(
            project_url(acme.project), json={"name": "Roadmap 2027"}, headers=acme.member.headers
        )

        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"2"'
        assert (response.json()["name"], response.json()["version"]) == ("Roadmap 2027", 2)
        assert response.json()["description"] == ""
        row = await stored(session_factory, acme.tenant, Project, acme.project.id)
        assert (row.name, row.version) == ("Roadmap 2027", 2)

    async def test_next_read_sees_the_change_and_the_new_etag(
        self, client: AsyncClient, acme: Org
    ) -> None:
        # The first read fills the cache; the update must invalidate it.
        assert (await client.get(project_url(acme.project), headers=acme.viewer.headers)).headers[
            "etag"
        ] == '"1"'
        await client.patch(
            project_url(acme.project), json={"description": "Q1"}, headers=acme.member.headers
        )

        read = await client.get(project_url(acme.project), headers=acme.viewer.headers)

        assert read.headers["etag"] == '"2"'
        assert (read.json()["description"], read.json()["version"]) == ("Q1", 2)

    async def test_each_change_bumps_the_version(self, client: AsyncClient, acme: Org) -> None:
        for expected, name in [(2, "a"), (3, "b"), (4, "c")]:
            response = await client.patch(
                project_url(acme.project), json={"name": name}, headers=acme.member.headers
            )
            assert response.json()["version"] == expected
            assert response.headers["etag"] == f'"{expected}"'

    async def test_if_match_current_is_200(self, client: AsyncClient, acme: Org) -> None:
        etag = (await client.get(project_url(acme.project), headers=acme.member.headers)).headers[
            "etag"
        ]
        response = await client.patch(
            project_url(acme.project),
            json={"name": "Guarded"},
            headers={**acme.member.headers, "If-Match": etag},
        )
        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'

    async def test_if_match_star_is_200(self, client: AsyncClient, acme: Org) -> None:
        response = await client.patch(
            project_url(acme.project),
            json={"name": "Any"},
            headers={**acme.member.headers, "If-Match": "*"},
        )
        assert response.status_code == 200
        assert response.json()["version"] == 2

    async def test_if_match_stale_is_412_and_nothing_changes(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        await client.patch(
            project_url(acme.project), json={"name": "First"}, headers=acme.member.headers
        )

        response = await client.patch(
            project_url(acme.project),
            json={"name": "Lost"},
            headers={**acme.member.headers, "If-Match": '"1"'},
        )

        assert assert_problem(response, 412)["type"] == "urn:problem:dependable:stale-version"
        row = await stored(session_factory, acme.tenant, Project, acme.project.id)
        assert (row.name, row.version) == ("First", 2)
        read = await client.get(project_url(acme.project), headers=acme.viewer.headers)
        assert (read.json()["name"], read.headers["etag"]) == ("First", '"2"')

    async def test_empty_body_changes_nothing(self, client: AsyncClient, acme: Org) -> None:
        response = await client.patch(
            project_url(acme.project), json={}, headers=acme.member.headers
        )
        assert response.status_code == 200
        assert (response.json()["name"], response.json()["version"]) == ("acme roadmap", 1)
        assert response.headers["etag"] == '"1"'

    @pytest.mark.parametrize(
        ("body", "loc", "error_type"),
        [
            ({"name": None}, ["body", "name"], "value_error"),
            ({"description": None}, ["body", "description"], "value_error"),
            ({"name": ""}, ["body", "name"], "string_too_short"),
            ({"name": "x" * 201}, ["body", "name"], "string_too_long"),
            ({"name": 7}, ["body", "name"], "string_type"),
            ({"name": "ok", "created_by": None}, ["body", "created_by"], "extra_forbidden"),
            ({"version": 5}, ["body", "version"], "extra_forbidden"),
        ],
    )
    async def test_invalid_body_is_422(
        self,
        client: AsyncClient,
        acme: Org,
        session_factory: SessionFactory,
        body: dict[str, Any],
        loc: list[Any],
        error_type: str,
    ) -> None:
        response = await client.patch(
            project_url(acme.project), json=body, headers=acme.member.headers
        )
        assert field_error(response) == (loc, error_type)
        row = await stored(session_factory, acme.tenant, Project, acme.project.id)
        assert (row.name, row.description, row.version) == ("acme roadmap", "", 1)

    async def test_duplicate_name_in_tenant_is_409(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        other = await create_project(session_factory, acme.tenant, name="Other")
        response = await client.patch(
            f"{PROJECTS}/{other.id}", json={"name": "acme roadmap"}, headers=acme.member.headers
        )
        assert assert_problem(response, 409)["type"].endswith("project-name-taken")
        row = await stored(session_factory, acme.tenant, Project, other.id)
        assert (row.name, row.version) == ("Other", 1)

    async def test_name_of_another_tenants_project_is_fine(
        self, client: AsyncClient, acme: Org, globex: Org
    ) -> None:
        response = await client.patch(
            project_url(acme.project), json={"name": "globex roadmap"}, headers=acme.member.headers
        )
        assert response.status_code == 200

    async def test_unknown_id_is_404(self, client: AsyncClient, acme: Org) -> None:
        response = await client.patch(
            f"{PROJECTS}/{uuid.uuid4()}", json={"name": "x"}, headers=acme.member.headers
        )
        assert_problem(response, 404)

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.patch(
            project_url(acme.project), json={"name": "x"}, headers=acme.viewer.headers
        )
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        row = await stored(session_factory, acme.tenant, Project, acme.project.id)
        assert row.name == "acme roadmap"

    async def test_anonymous(self, client: AsyncClient, acme: Org) -> None:
        assert_problem(await client.patch(project_url(acme.project), json={"name": "x"}), 401)

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.patch(
            project_url(acme.project), json={"name": "x"}, headers=globex.owner.headers
        )
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        row = await stored(session_factory, acme.tenant, Project, acme.project.id)
        assert (row.name, row.version) == ("acme roadmap", 1)


class TestDeleteProject:
    async def test_member_deletes_it_and_its_tasks(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        task_url = f"{project_url(acme.project)}/tasks/{acme.task.id}"
        assert (await client.get(task_url, headers=acme.viewer.headers)).status_code == 200
        assert (
            await client.get(project_url(acme.project), headers=acme.viewer.headers)
        ).status_code == 200

        response = await client.delete(project_url(acme.project), headers=acme.member.headers)

        assert response.status_code == 204
        assert response.content == b""
        assert_problem(
            await client.get(project_url(acme.project), headers=acme.viewer.headers), 404
        )
        assert_problem(await client.get(task_url, headers=acme.viewer.headers), 404)
        assert await find(session_factory, acme.tenant, Project, acme.project.id) is None
        assert await tasks_of_project(session_factory, acme) == 0
        listed = await client.get(PROJECTS, headers=acme.viewer.headers)
        assert listed.json()["items"] == []

    async def test_if_match_current_is_204(self, client: AsyncClient, acme: Org) -> None:
        response = await client.delete(
            project_url(acme.project), headers={**acme.member.headers, "If-Match": '"1"'}
        )
        assert response.status_code == 204

    async def test_if_match_star_is_204(self, client: AsyncClient, acme: Org) -> None:
        response = await client.delete(
            project_url(acme.project), headers={**acme.member.headers, "If-Match": "*"}
        )
        assert response.status_code == 204

    @pytest.mark.parametrize("if_match", ['"2"', "garbage"])
    async def test_if_match_stale_or_garbage_is_412_and_nothing_is_deleted(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, if_match: str
    ) -> None:
        response = await client.delete(
            project_url(acme.project), headers={**acme.member.headers, "If-Match": if_match}
        )
        assert_problem(response, 412)
        assert await find(session_factory, acme.tenant, Project, acme.project.id) is not None
        assert await tasks_of_project(session_factory, acme) == 1

    async def test_delete_twice_is_404(self, client: AsyncClient, acme: Org) -> None:
        assert (
            await client.delete(project_url(acme.project), headers=acme.member.headers)
        ).status_code == 204
        assert_problem(
            await client.delete(project_url(acme.project), headers=acme.member.headers), 404
        )

    async def test_freed_name_can_be_reused(self, client: AsyncClient, acme: Org) -> None:
        await client.delete(project_url(acme.project), headers=acme.member.headers)
        response = await client.post(
            PROJECTS, json={"name": "acme roadmap"}, headers=acme.member.headers
        )
        assert response.status_code == 201

    async def test_insufficient_role(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.delete(project_url(acme.project), headers=acme.viewer.headers)
        assert assert_problem(response, 403)["type"].endswith("insufficient-role")
        assert await find(session_factory, acme.tenant, Project, acme.project.id) is not None

    async def test_anonymous(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        assert_problem(await client.delete(project_url(acme.project)), 401)
        assert await find(session_factory, acme.tenant, Project, acme.project.id) is not None

    async def test_other_tenant(
        self, client: AsyncClient, acme: Org, globex: Org, session_factory: SessionFactory
    ) -> None:
        response = await client.delete(project_url(acme.project), headers=globex.owner.headers)
        assert assert_problem(response, 404)["type"].endswith("project-not-found")
        assert await find(session_factory, acme.tenant, Project, acme.project.id) is not None
        assert await tasks_of_project(session_factory, acme) == 1
