"""Creating a task while its project is being deleted (issue 10, item 8).

The request loads the project (still there: the deletion has not committed), then inserts the
task; the foreign key check waits for the deleting transaction and, once it commits, fails. The
repository translates that violation into the answer the request would have got a moment later:
404, project not found. Before, it was a 500.
"""

from httpx import AsyncClient
from sqlalchemy import text

from tests.fixtures.committed import CommittedOrg, Holder
from tests.fixtures.problems import assert_problem


async def test_item8_task_creation_racing_the_deletion_of_its_project_is_a_404(
    committed_org: CommittedOrg, committing_client: AsyncClient
) -> None:
    org = committed_org
    async with Holder(org.owner) as deleter:
        await deleter.execute("DELETE FROM projects WHERE id = :id", id=org.project_id)
        response = await deleter.release_when_blocked(
            committing_client.post(
                f"/api/v1/projects/{org.project_id}/tasks",
                json={"title": "Too late"},
                headers=org.member.headers,
            )
        )

    assert assert_problem(response, 404)["type"].endswith("project-not-found")
    async with org.owner.connect() as connection:
        tasks = await connection.scalar(
            text("SELECT count(*) FROM tasks WHERE tenant_id = :tenant"), {"tenant": org.tenant.id}
        )
        assert tasks == 0
