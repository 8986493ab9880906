"""RequestContextMiddleware (app/http/middleware.py): request ids and the last-resort 500."""

import logging

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from app.tenant.dependencies import get_tenant_service
from tests.fixtures.factories import signup_body


class TestRequestId:
    async def test_sane_incoming_id_is_echoed(self, client: AsyncClient) -> None:
        response = await client.get("/health/live", headers={"X-Request-ID": "abc-123_x.y"})
        assert response.headers["x-request-id"] == "abc-123_x.y"

    @pytest.mark.parametrize(
        "incoming", [b"a" * 129, b"has space", b"semi;colon", "\xfcnicode".encode("latin-1"), b""]
    )
    async def test_insane_incoming_id_is_replaced(
        self, client: AsyncClient, incoming: bytes
    ) -> None:
        response = await client.get("/health/live", headers={b"X-Request-ID": incoming})
        generated = response.headers["x-request-id"]
        assert generated.encode() != incoming
        assert len(generated) == 32

    async def test_generated_when_absent_and_unique(self, client: AsyncClient) -> None:
        first = await client.get("/health/live")
        second = await client.get("/health/live")
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_error_responses_carry_it_in_header_and_body(self, client: AsyncClient) -> None:
        response = await client.get("/no/such/route", headers={"X-Request-ID": "trace-me"})
        assert response.status_code == 404
        assert response.headers["x-request-id"] == "trace-me"
        assert response.json()["request_id"] == "trace-me"


class TestUnexpectedError:
    @pytest.mark.overrides("a service provider that raises: the unexpected-error path")
    async def test_is_a_bare_500_problem_and_logged_with_traceback(
        self, app: FastAPI, client: AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        async def broken_service() -> None:
            raise RuntimeError("password=hunter2 at db.internal:5432")

        app.dependency_overrides[get_tenant_service] = broken_service
        # at_level(logger=...) attaches the capture handler to that logger itself: "app" does
        # not propagate to the root logger.
        with caplog.at_level(logging.ERROR, logger="app.errors"):
            response = await client.post(
                "/api/v1/tenants", json=signup_body(), headers={"X-Request-ID": "boom-1"}
            )

        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"] == "boom-1"
        body = response.json()
        assert body["title"] == "Internal Server Error"
        assert "hunter2" not in response.text
        assert "RuntimeError" not in response.text
        [record] = [r for r in caplog.records if r.name == "app.errors"]
        assert record.exc_info is not None
        assert record.exc_info[0] is RuntimeError
        assert record.__dict__["request_id"] == "boom-1"  # an `extra` of the log call
