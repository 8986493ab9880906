"""Redis unreachable, on the projects' routes: their cache (`project:<tenant>:<id>`) is skipped,
and reads and writes are served from PostgreSQL. The outage on the users' routes, its log line and
the circuit: tests/faults/test_redis_outage.py; idempotency keys without Redis:
tests/idempotency/test_http.py."""

from httpx import AsyncClient

from app.core.resources import Resources
from tests.fixtures.auth import Org
from tests.fixtures.demo import PROJECTS


async def test_projects_are_read_and_written_without_their_cache(
    client: AsyncClient, acme: Org, redis_down: Resources
) -> None:
    created = await client.post(PROJECTS, json={"name": "Offline"}, headers=acme.member.headers)
    read = await client.get(f"{PROJECTS}/{created.json()['id']}", headers=acme.viewer.headers)
    listed = await client.get(PROJECTS, headers=acme.viewer.headers)
    patched = await client.patch(
        f"{PROJECTS}/{created.json()['id']}",
        json={"name": "Still offline"},
        headers={**acme.member.headers, "If-Match": read.headers["etag"]},
    )
    reread = await client.get(f"{PROJECTS}/{created.json()['id']}", headers=acme.viewer.headers)

    assert (created.status_code, read.status_code, listed.status_code) == (201, 200, 200)
    assert patched.status_code == 200
    assert read.json()["name"] == "Offline"
    assert reread.json()["name"] == "Still offline"
