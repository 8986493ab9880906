"""Prometheus metrics (app/core/metrics.py, app/http/observability.py): the series, labelled by
route template; the pool gauges read at scrape time; one registry per app; /metrics protection."""

import asyncio
import uuid

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core.config import OperationsSettings, RateLimitRule, RateLimitSettings, RedisSettings
from app.core.metrics import AppMetrics
from app.core.redis import create_redis_client, create_redis_pool, skipped
from app.http.deps import ResourcesDep
from tests.fixtures.app import use_redis, use_resources
from tests.fixtures.paths import TOKEN
from tests.observability.conftest import METRICS_TOKEN, AppFactory, client_for, sample, samples

PROBE = "/api/v1/probe/things/{thing_id}"


def add_probe_routes(app: FastAPI, gate: asyncio.Event | None = None) -> None:
    """A route with a path parameter, nested like the product's routers (an outer prefix)."""
    things = APIRouter(prefix="/things")

    @things.get("/{thing_id}")
    async def read_thing(thing_id: uuid.UUID) -> dict[str, str]:
        if gate is not None:
            await gate.wait()
        return {"id": str(thing_id)}

    @things.get("/{thing_id}/side-effects")
    async def side_effects(thing_id: uuid.UUID, resources: ResourcesDep) -> None:
        async def failing() -> None:
            raise RedisConnectionError("probe")

        await resources.redis_circuit.call("probe", failing, fallback=skipped)
        resources.metrics.count_rate_limit_rejection("login_per_account")

    outer = APIRouter(prefix="/api/v1/probe")
    outer.include_router(things)
    app.include_router(outer)


class TestHttpSeries:
    async def test_labelled_by_route_template_never_by_raw_path(self, make_app: AppFactory) -> None:
        app = await make_app()
        add_probe_routes(app)
        ids = [str(uuid.uuid4()) for _ in range(3)]

        async with client_for(app) as client:
            for thing_id in ids:
                assert (await client.get(f"/api/v1/probe/things/{thing_id}")).status_code == 200
            assert (await client.get(f"/api/v1/tenants/{ids[0]}")).status_code in (401, 404, 405)
            assert (await client.get("/health/live")).status_code == 200
            exposition = (await client.get("/metrics")).text

        def count(route: str, status: str) -> float | None:
            labels = {"method": "GET", "route": route, "status": status}
            return sample(exposition, "http_requests_total", **labels)

        assert count(PROBE, "200") == 3
        assert count("/health/live", "200") == 1
        histogram = {"method": "GET", "route": PROBE, "status": "200"}
        assert sample(exposition, "http_request_duration_seconds_count", **histogram) == 3
        total = sample(exposition, "http_request_duration_seconds_sum", **histogram)
        assert total is not None
        assert total > 0
        for thing_id in ids:
            assert thing_id not in exposition
        routes = {
            route for _, labels in samples(exposition) if (route := dict(labels).get("route"))
        }
        assert all(route == "unmatched" or route.startswith("/") for route in routes)

    async def test_unmatched_paths_share_one_label(self, make_app: AppFactory) -> None:
        app = await make_app()
        async with client_for(app) as client:
            for _ in range(2):
                await client.get(f"/no/such/{uuid.uuid4()}")
            exposition = (await client.get("/metrics")).text
        labels = {"method": "GET", "route": "unmatched", "status": "404"}
        assert sample(exposition, "http_requests_total", **labels) == 2

    async def test_unknown_methods_are_counted_as_other(self, make_app: AppFactory) -> None:
        app = await make_app()
        async with client_for(app) as client:
            await client.request("BREW", "/health/live")
            exposition = (await client.get("/metrics")).text
        labels = {"method": "OTHER", "route": "/health/live", "status": "405"}
        assert sample(exposition, "http_requests_total", **labels) == 1

    async def test_in_progress_counts_requests_in_flight(self, make_app: AppFactory) -> None:
        app = await make_app()
        gate = asyncio.Event()
        add_probe_routes(app, gate)
        in_progress = {"method": "GET", "route": PROBE}

        async with client_for(app) as client:
            waiting = asyncio.create_task(client.get(f"/api/v1/probe/things/{uuid.uuid4()}"))
            # Until the request reaches the endpoint it may not have a route yet.
            for _ in range(100):
                during = (await client.get("/metrics")).text
                if sample(during, "http_requests_in_progress", **in_progress) == 1:
                    break
                await asyncio.sleep(0.01)
            gate.set()
            assert (await asyncio.wait_for(waiting, 5)).status_code == 200
            after = (await client.get("/metrics")).text

        assert sample(during, "http_requests_in_progress", **in_progress) == 1
        assert sample(after, "http_requests_in_progress", **in_progress) == 0

    async def test_each_app_has_its_own_registry(self, make_app: AppFactory) -> None:
        busy, quiet = await make_app(), await make_app()
        async with client_for(busy) as client:
            for _ in range(3):
                await client.get("/health/live")
        async with client_for(quiet) as client:
            exposition = (await client.get("/metrics")).text
        labels = {"method": "GET", "route": "/health/live", "status": "200"}
        assert sample(exposition, "http_requests_total", **labels) is None


class TestDatabasePool:
    async def test_gauges_are_read_from_the_engine_at_scrape_time(
        self, make_app: AppFactory
    ) -> None:
        app = await make_app()
        engine = app.state.resources.engine

        async with client_for(app) as client:
            async with engine.connect():
                holding = (await client.get("/metrics")).text
            released = (await client.get("/metrics")).text

        assert sample(holding, "db_pool_size") == 5  # DATABASE__POOL_SIZE in the test settings
        assert sample(holding, "db_pool_checked_out_connections") == 1
        assert sample(released, "db_pool_checked_out_connections") == 0
        assert sample(released, "db_pool_checked_in_connections") == 1

    def test_nothing_is_exported_before_the_lifespan_opened_the_engine(self) -> None:
        exposition = AppMetrics().registry.collect()
        assert not [family for family in exposition if family.name.startswith("db_pool")]


class TestCountersOthersCall:
    async def test_they_count_on_the_app_whose_resources_met_the_failure(
        self, make_app: AppFactory
    ) -> None:
        app, other = await make_app(), await make_app()
        add_probe_routes(app)
        async with client_for(app) as client:
            before = (await client.get("/metrics")).text
            await client.get(f"/api/v1/probe/things/{uuid.uuid4()}/side-effects")
            await client.get(f"/api/v1/probe/things/{uuid.uuid4()}/side-effects")
            after = (await client.get("/metrics")).text
        async with client_for(other) as client:
            elsewhere = (await client.get("/metrics")).text

        assert sample(before, "redis_errors_total") == 0
        assert sample(after, "redis_errors_total") == 2
        name = {"name": "login_per_account"}
        assert sample(after, "rate_limit_rejections_total", **name) == 2
        assert sample(elsewhere, "redis_errors_total") == 0
        assert sample(elsewhere, "rate_limit_rejections_total", **name) is None

    async def test_the_rate_limit_guard_counts_its_rejections(self, make_app: AppFactory) -> None:
        app = await make_app()
        one_per_minute = RateLimitSettings(
            login_per_address=RateLimitRule(limit=1, period_seconds=60)
        )
        settings = app.state.resources.settings
        use_resources(app, settings=settings.model_copy(update={"rate_limit": one_per_minute}))
        form = {"username": "someone@example.com", "password": "not a real password"}
        async with client_for(app) as client:
            statuses = [
                (await client.post(TOKEN, data=form, headers={"X-Tenant": "nobody"})).status_code
                for _ in range(3)
            ]
            exposition = (await client.get("/metrics")).text

        assert statuses[1:] == [429, 429]
        name = {"name": "login_per_address"}
        assert sample(exposition, "rate_limit_rejections_total", **name) == 2

    async def test_readiness_counts_redis_down(
        self, make_app: AppFactory, unused_tcp_port: int
    ) -> None:
        app = await make_app()
        dead_url = f"redis://127.0.0.1:{unused_tcp_port}/0"
        dead = create_redis_client(create_redis_pool(RedisSettings(url=dead_url)))
        use_redis(app, dead)
        try:
            async with client_for(app) as client:
                ready = await client.get("/health/ready")
                exposition = (await client.get("/metrics")).text
        finally:
            await dead.aclose()
        assert ready.json()["checks"]["redis"]["status"] == "degraded"
        assert sample(exposition, "redis_errors_total") == 1


class TestProtection:
    @pytest.mark.parametrize("mode", ["open", "disabled", "bearer"])
    async def test_never_in_the_openapi_schema(self, make_app: AppFactory, mode: str) -> None:
        token = METRICS_TOKEN if mode == "bearer" else None
        app = await make_app(metrics_mode=mode, metrics_token=token)
        assert "/metrics" not in app.openapi()["paths"]

    async def test_open(self, make_app: AppFactory) -> None:
        app = await make_app(metrics_mode="open")
        async with client_for(app) as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "http_requests_in_progress" in response.text

    async def test_disabled_is_the_ordinary_404(self, make_app: AppFactory) -> None:
        app = await make_app(metrics_mode="disabled")
        async with client_for(app) as client:
            response = await client.get("/metrics")
            unknown = await client.get("/no-such-page")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert {
            k: v for k, v in response.json().items() if k not in ("instance", "request_id")
        } == {k: v for k, v in unknown.json().items() if k not in ("instance", "request_id")}

    @pytest.mark.parametrize(
        "authorization",
        [None, "Bearer wrong-token-0123456789", f"Basic {METRICS_TOKEN}", METRICS_TOKEN, "Bearer"],
    )
    async def test_bearer_refuses_without_the_token(
        self, make_app: AppFactory, authorization: str | None
    ) -> None:
        app = await make_app(metrics_mode="bearer", metrics_token=METRICS_TOKEN)
        headers = {"Authorization": authorization} if authorization else {}
        async with client_for(app) as client:
            response = await client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["status"] == 401
        assert METRICS_TOKEN not in response.text

    async def test_bearer_serves_with_the_token(self, make_app: AppFactory) -> None:
        app = await make_app(metrics_mode="bearer", metrics_token=METRICS_TOKEN)
        async with client_for(app) as client:
            response = await client.get(
                "/metrics", headers={"Authorization": f"bearer {METRICS_TOKEN}"}
            )
        assert response.status_code == 200
        assert "http_requests_total" in response.text

    @pytest.mark.parametrize("token", [None, "", "too-short"])
    def test_bearer_without_a_real_token_is_refused_at_startup(self, token: str | None) -> None:
        with pytest.raises(ValidationError, match="OPERATIONS__METRICS_TOKEN"):
            OperationsSettings(
                metrics_mode="bearer",
                metrics_token=None if token is None else SecretStr(token),
            )
