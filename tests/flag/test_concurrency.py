"""`PUT /flags/{key}` of a new key racing another writer of the same key (issue 10, item 8).

PUT is an upsert (`INSERT ... ON CONFLICT DO UPDATE`): the request that loses the race for the
insert waits for the winner's commit and then updates the row the winner made, so both answer
200 and the later writer's value stands, as for any two PUTs. Before, the loser read "no such
flag", inserted, and failed the unique constraint: a 500.
"""

from httpx import AsyncClient
from sqlalchemy import text

from tests.fixtures.committed import CommittedOrg, Holder

KEY = "raced_flag"


async def test_item8_concurrent_put_of_a_new_flag_is_not_a_500(
    committed_org: CommittedOrg, committing_client: AsyncClient
) -> None:
    org = committed_org
    async with Holder(org.owner) as other_writer:
        # Another transaction created the same key and has not committed yet.
        await other_writer.execute(
            "INSERT INTO feature_flags (tenant_id, key, enabled) VALUES (:tenant, :key, false)",
            tenant=org.tenant.id,
            key=KEY,
        )
        response = await other_writer.release_when_blocked(
            committing_client.put(
                f"/api/v1/flags/{KEY}", json={"enabled": True}, headers=org.admin.headers
            )
        )

    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
    async with org.owner.connect() as connection:
        rows = await connection.execute(
            text("SELECT key, enabled FROM feature_flags WHERE tenant_id = :tenant"),
            {"tenant": org.tenant.id},
        )
        assert [tuple(row) for row in rows] == [(KEY, True)]
