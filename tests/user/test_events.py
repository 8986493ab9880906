"""The users' events (app/user/service.py): adding a user records `user.created`, removing one
`user.deleted`, each one row of the outbox written by the change's own transaction, so a write
that fails or is refused leaves none. The data is the user's id and role and the acting user's
id (`by`), nothing personal."""

import uuid

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.identity.models import Role, User
from tests.fixtures.app import use_resources
from tests.fixtures.auth import Org
from tests.fixtures.database import FailingCommitSession, savepoint_factory
from tests.fixtures.outbox import recorded
from tests.fixtures.paths import USERS
from tests.fixtures.problems import assert_problem
from tests.fixtures.rows import count


def new_user(role: str = "member", email: str = "new@acme.example.com") -> dict[str, str]:
    return {
        "email": email,
        "password": "a long enough password",
        "full_name": "New Person",
        "role": role,
    }


_USER_XMIN = text("SELECT xmin::text FROM users WHERE id = :id")
_EVENT_XMIN = text("SELECT xmin::text FROM outbox WHERE id = :id")


async def writing_transaction(
    factory: SessionFactory, tenant_id: uuid.UUID, query: TextClause, id_: uuid.UUID | str
) -> str:
    """The id of the transaction that wrote the row (`xmin`; in the suite, the savepoint of the
    request or fixture that wrote it, a subtransaction with an id of its own)."""
    async with factory() as session:
        await bind_tenant(session, tenant_id)
        xmin = await session.scalar(query, {"id": uuid.UUID(str(id_))})
    assert xmin is not None
    return str(xmin)


class TestUserCreated:
    @pytest.mark.parametrize(("by", "role"), [(Role.ADMIN, "member"), (Role.OWNER, "admin")])
    async def test_a_created_user_is_one_event_in_the_creating_transaction(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory, by: Role, role: str
    ) -> None:
        response = await client.post(USERS, json=new_user(role), headers=acme.actors[by].headers)

        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        [row] = await recorded(session_factory, acme.tenant.id)
        # The id and the role, and who added them: no email, no name.
        by_id = str(acme.actors[by].user.id)
        assert (row.type, row.data) == (
            "user.created",
            {"user_id": user_id, "role": role, "by": by_id},
        )
        assert (row.attempts, row.sent_at, row.retry_at) == (0, None, None)
        # One transaction wrote both rows (and xmin tells transactions apart: the fixture's
        # users were written by another).
        tenant = acme.tenant.id
        written_by = await writing_transaction(session_factory, tenant, _USER_XMIN, user_id)
        assert await writing_transaction(session_factory, tenant, _EVENT_XMIN, row.id) == written_by
        other = await writing_transaction(session_factory, tenant, _USER_XMIN, acme.member.user.id)
        assert other != written_by

    async def test_a_failed_commit_leaves_neither_the_user_nor_its_event(
        self, app: FastAPI, client: AsyncClient, acme: Org, connection: AsyncConnection
    ) -> None:
        use_resources(app, session_factory=savepoint_factory(connection, FailingCommitSession))

        response = await client.post(USERS, json=new_user(), headers=acme.admin.headers)

        assert response.status_code == 500
        readback = savepoint_factory(connection)
        assert await recorded(readback, acme.tenant.id) == []
        assert await count(readback, acme.tenant, User, User.email == "new@acme.example.com") == 0

    async def test_a_refused_create_records_nothing(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        taken = new_user(email=acme.member.user.email)
        assert_problem(await client.post(USERS, json=taken, headers=acme.admin.headers), 409)
        admin = new_user("admin")
        assert_problem(await client.post(USERS, json=admin, headers=acme.admin.headers), 403)

        assert await recorded(session_factory, acme.tenant.id) == []


class TestUserDeleted:
    async def test_a_removed_user_is_one_event(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        member = acme.member.user
        response = await client.delete(f"{USERS}/{member.id}", headers=acme.admin.headers)

        assert response.status_code == 204
        [row] = await recorded(session_factory, acme.tenant.id)
        assert (row.type, row.data) == (
            "user.deleted",
            {"user_id": str(member.id), "role": "member", "by": str(acme.admin.user.id)},
        )

    async def test_a_refused_delete_records_nothing(
        self, client: AsyncClient, acme: Org, session_factory: SessionFactory
    ) -> None:
        last_owner = f"{USERS}/{acme.owner.user.id}"
        assert_problem(await client.delete(last_owner, headers=acme.owner.headers), 409)

        assert await recorded(session_factory, acme.tenant.id) == []
