"""Declaration order is resolution order: `update_task` declares its role guard before the
project and task lookups, so a caller below the role is refused before any of the tenant's data
is read. A viewer asking to change a task that does not exist gets 403, not 404."""

import uuid

from httpx import AsyncClient

from tests.fixtures.auth import Org
from tests.fixtures.problems import assert_problem


async def test_the_role_guard_runs_before_the_lookups(client: AsyncClient, acme: Org) -> None:
    missing = f"/api/v1/projects/{uuid.uuid4()}/tasks/{uuid.uuid4()}"

    as_viewer = await client.patch(missing, json={"title": "x"}, headers=acme.viewer.headers)
    as_member = await client.patch(missing, json={"title": "x"}, headers=acme.member.headers)

    assert assert_problem(as_viewer, 403)["type"].endswith("insufficient-role")
    assert_problem(as_member, 404)
