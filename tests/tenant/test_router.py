"""POST /api/v1/tenants against real PostgreSQL: the signup contract and its bad-input answers."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.tenancy import bind_tenant
from app.identity.models import Role, Tenant, User
from tests.fixtures.factories import signup_body
from tests.fixtures.paths import TENANTS
from tests.fixtures.problems import assert_problem


class TestSignUp:
    async def test_creates_tenant_and_owner(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        response = await client.post(TENANTS, json=signup_body())

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["tenant"]["slug"] == "acme"
        assert body["owner"]["email"] == "owner@example.com"
        assert body["owner"]["role"] == "owner"
        assert body["owner"]["tenant_id"] == body["tenant"]["id"]
        await bind_tenant(session, uuid.UUID(body["tenant"]["id"]))  # users are behind RLS
        owner = await session.scalar(select(User).where(User.id == body["owner"]["id"]))
        assert owner is not None
        assert owner.role is Role.OWNER
        assert owner.password_hash.startswith("$argon2id$")

    async def test_response_never_contains_the_hash_or_password(self, client: AsyncClient) -> None:
        response = await client.post(TENANTS, json=signup_body())

        assert response.status_code == 201
        assert "argon2" not in response.text
        assert "password" not in response.text
        assert "correct horse" not in response.text

    async def test_duplicate_slug_is_409(self, client: AsyncClient, session: AsyncSession) -> None:
        assert (await client.post(TENANTS, json=signup_body())).status_code == 201

        response = await client.post(TENANTS, json=signup_body(email="other@example.com"))

        body = assert_problem(response, 409)
        assert body["type"].endswith("tenant-slug-taken")
        count = len((await session.scalars(select(Tenant).where(Tenant.slug == "acme"))).all())
        assert count == 1

    @pytest.mark.parametrize(
        "slug", ["ab", "a" * 64, "Acme", "-acme", "acme-", "ac_me", "ac me", "acmé", ""]
    )
    async def test_invalid_slug_is_422(self, client: AsyncClient, slug: str) -> None:
        body = assert_problem(await client.post(TENANTS, json=signup_body(slug=slug)), 422)
        assert [e["loc"] for e in body["errors"]] == [["body", "slug"]]

    @pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com"])
    async def test_invalid_email_is_422(self, client: AsyncClient, email: str) -> None:
        body = assert_problem(await client.post(TENANTS, json=signup_body(email=email)), 422)
        assert [e["loc"] for e in body["errors"]] == [["body", "email"]]

    async def test_short_password_is_422_and_not_echoed(self, client: AsyncClient) -> None:
        response = await client.post(TENANTS, json=signup_body(password="elevenchars"))

        body = assert_problem(response, 422)
        assert [e["loc"] for e in body["errors"]] == [["body", "password"]]
        assert "elevenchars" not in response.text

    async def test_missing_fields_are_listed(self, client: AsyncClient) -> None:
        body = assert_problem(await client.post(TENANTS, json={}), 422)
        missing = {e["loc"][-1] for e in body["errors"] if e["type"] == "missing"}
        assert missing == {"name", "slug", "email", "password", "full_name"}

    async def test_wrong_types_are_422(self, client: AsyncClient) -> None:
        response = await client.post(
            TENANTS, json=signup_body(name=42, slug=["acme"], password=None)
        )
        body = assert_problem(response, 422)
        assert {e["loc"][-1] for e in body["errors"]} == {"name", "slug", "password"}

    async def test_malformed_json_is_422(self, client: AsyncClient) -> None:
        response = await client.post(
            TENANTS, content=b'{"name": "Acme",', headers={"content-type": "application/json"}
        )
        body = assert_problem(response, 422)
        assert body["errors"][0]["type"] == "json_invalid"

    @pytest.mark.parametrize("body", [[], "acme", 1, None])
    async def test_non_object_json_is_422(self, client: AsyncClient, body: Any) -> None:
        assert_problem(await client.post(TENANTS, json=body), 422)

    async def test_unknown_field_is_refused(self, client: AsyncClient) -> None:
        body = assert_problem(await client.post(TENANTS, json=signup_body(role="admin")), 422)
        assert body["errors"][0]["type"] == "extra_forbidden"

    async def test_megabyte_string_is_422_and_not_echoed(self, client: AsyncClient) -> None:
        huge = "x" * 1_000_000
        response = await client.post(TENANTS, json=signup_body(name=huge))

        assert_problem(response, 422)
        assert len(response.content) < 2_000

    async def test_body_over_the_limit_is_413(self, client: AsyncClient) -> None:
        response = await client.post(TENANTS, json=signup_body(name="x" * 1_100_000))
        assert_problem(response, 413)

    async def test_streamed_body_over_the_limit_is_413(self, client: AsyncClient) -> None:
        async def chunks() -> AsyncIterator[
            bytes
        ]:  # no Content-Length: the limit is enforced while reading
            for _ in range(120):
                yield b"x" * 10_000

        response = await client.post(
            TENANTS, content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413)
