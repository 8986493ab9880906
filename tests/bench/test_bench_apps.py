"""The benchmark's own apps start and answer (no timing: `make bench` measures, CI does not).

The data generator fills a scratch database named after the test database with a tiny data set,
the raw baseline serves it in-process with its real lifespan, and the FastAPI floor app answers
its two routes.
"""

from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.engine import make_url

from app.core.db import drop_database_if_exists
from bench import baseline, floor
from bench.data import BenchData, prepare
from bench.settings import BenchSettings
from tests.fixtures.settings import TEST_DATABASE_OWNER_URL, TEST_DATABASE_URL, TEST_REDIS_URL

TASKS = 120


def _scratch(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_bench").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def bench_settings() -> BenchSettings:
    return BenchSettings(
        database_url=_scratch(TEST_DATABASE_URL),
        database_owner_url=_scratch(TEST_DATABASE_OWNER_URL),
        redis_url=TEST_REDIS_URL,
    )


@pytest.fixture(scope="module")
async def data(bench_settings: BenchSettings) -> BenchData:
    # Anew each run: a previous run's database may be at revisions this history does not have.
    await drop_database_if_exists(bench_settings.database_owner_url)
    return await prepare(bench_settings, tasks=TASKS)


@pytest.fixture
async def baseline_client(
    bench_settings: BenchSettings, data: BenchData
) -> AsyncIterator[AsyncClient]:
    app = baseline.create_app(baseline.Config.from_env(bench_settings.server_env()))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client,
    ):
        yield client


def _auth(data: BenchData) -> dict[str, str]:
    return {"Authorization": f"Bearer {data.token}"}


async def test_baseline_serves_the_caller(baseline_client: AsyncClient, data: BenchData) -> None:
    response = await baseline_client.get("/api/v1/users/me", headers=_auth(data))

    assert response.status_code == 200
    assert response.json()["id"] == str(data.user_id)
    assert response.json()["tenant_id"] == str(data.tenant_id)


async def test_baseline_refuses_a_forged_token(
    baseline_client: AsyncClient, data: BenchData
) -> None:
    forged = data.token[:-4] + ("AAAA" if not data.token.endswith("AAAA") else "BBBB")

    response = await baseline_client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"}
    )

    assert response.status_code == 401


async def test_baseline_pages_from_a_cursor_dependable_signed(
    baseline_client: AsyncClient, data: BenchData
) -> None:
    """The deep cursor is encoded with the app's CursorCodec; the baseline must accept it, or
    the deep-page scenario would measure an error."""
    response = await baseline_client.get(
        f"/api/v1/projects/{data.project_id}/tasks",
        params={"limit": 50, "cursor": data.deep_cursor},
        headers=_auth(data),
    )

    assert response.status_code == 200
    page = response.json()
    assert len(page["items"]) == 50
    assert page["next_cursor"] is not None


async def test_baseline_creates_a_task(baseline_client: AsyncClient, data: BenchData) -> None:
    response = await baseline_client.post(
        f"/api/v1/projects/{data.inbox_id}/tasks",
        json={"title": "Smoke"},
        headers=_auth(data),
    )

    assert response.status_code == 201
    assert response.json()["project_id"] == str(data.inbox_id)
    assert response.headers["etag"] == '"1"'


@pytest.mark.parametrize("path", ["/empty", "/deps10"])
async def test_floor_app_answers(path: str) -> None:
    app = floor.create_app()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench") as client:
        response = await client.get(path)

    assert response.status_code == 200
    assert response.json() == {"ok": True}
