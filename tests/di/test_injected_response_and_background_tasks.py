"""The injected `Response` and `BackgroundTasks`, and what they cannot do (FastAPI 0.165,
`get_request_handler` in fastapi/routing.py; Starlette 1.10 `Response.__call__`).

* Headers a dependency sets on the injected `Response` are copied onto the response FastAPI
  builds from the endpoint's return value, and onto nothing else: an error response (rendered by
  an exception handler from the exception alone) goes out without them, and so does a `Response`
  the endpoint returns itself.
* An endpoint that returns its own `Response` with `background=` keeps that one: FastAPI attaches
  the injected `BackgroundTasks` only when `raw_response.background is None`, so tasks added to
  the injected object are silently dropped.
* Background tasks run inside `await response(...)`, so a pure ASGI middleware's call (its timer,
  an in-flight gauge) lasts until they end, long after the last body byte was sent."""

import asyncio

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Response
from fastapi.responses import JSONResponse
from httpx import AsyncClient
from starlette.background import BackgroundTask

from tests.di.asgi import ASGIApp, Message, Receive, Scope, Send, client_for
from tests.fixtures.auth import Org
from tests.fixtures.problems import assert_problem


def build_app(events: list[str]) -> FastAPI:
    async def count_the_call(response: Response) -> None:
        response.headers["RateLimit-Remaining"] = "4"

    async def task(name: str) -> None:
        events.append(f"task {name}")

    app = FastAPI(dependencies=[Depends(count_the_call)])

    @app.get("/ok")
    async def ok() -> str:
        return "ok"

    @app.get("/refused")
    async def refused() -> str:
        raise HTTPException(401, "bad credentials")

    @app.get("/own-response")
    async def own_response() -> JSONResponse:
        return JSONResponse("ok")

    @app.post("/own-background")
    async def own_background(background: BackgroundTasks) -> JSONResponse:
        background.add_task(task, "added to the injected BackgroundTasks")
        return JSONResponse("ok", background=BackgroundTask(task, "given to the response"))

    @app.post("/injected-background")
    async def injected_background(background: BackgroundTasks) -> JSONResponse:
        background.add_task(task, "added to the injected BackgroundTasks")
        return JSONResponse("ok")

    return app


async def test_headers_set_by_a_dependency_are_lost_on_an_error_response() -> None:
    async with client_for(build_app([])) as client:
        ok = await client.get("/ok")
        refused = await client.get("/refused")
        own = await client.get("/own-response")

    assert ok.headers["ratelimit-remaining"] == "4"
    assert refused.status_code == 401
    assert "ratelimit-remaining" not in refused.headers
    assert "ratelimit-remaining" not in own.headers  # a returned Response is sent as it is


async def test_a_returned_response_with_background_drops_the_injected_tasks() -> None:
    events: list[str] = []
    async with client_for(build_app(events)) as client:
        await client.post("/own-background")
        await client.post("/injected-background")

    assert events == [
        "task given to the response",
        "task added to the injected BackgroundTasks",  # the second request: background=None
    ]


def timed(app: ASGIApp, events: list[str]) -> ASGIApp:
    """A pure ASGI middleware with a timer: it notes when the last body byte went out and when
    the app's call returned."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def observed(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("last body byte sent")

        await app(scope, receive, observed)
        events.append("middleware's call returns (its timer stops)")

    return middleware


async def test_a_middleware_timer_includes_the_background_tasks() -> None:
    events: list[str] = []
    started, released = asyncio.Event(), asyncio.Event()

    async def slow_task() -> None:
        events.append("task starts")
        started.set()
        await released.wait()
        events.append("task ends")

    app = FastAPI()

    @app.post("/work")
    async def work(background: BackgroundTasks) -> str:
        background.add_task(slow_task)
        return "accepted"

    async with client_for(timed(app, events)) as client:
        request = asyncio.create_task(client.post("/work"))
        await started.wait()  # after the last body byte was sent
        released.set()
        response = await request

    assert response.json() == "accepted"
    assert events == [
        "last body byte sent",
        "task starts",
        "task ends",
        "middleware's call returns (its timer stops)",
    ]


class TestTheRealApp:
    """The login's rate limits set `RateLimit-*` on the injected `Response`; they also record
    them for the problem handlers (`keep_on_error_responses`), so a refused login carries them."""

    RATE_LIMIT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")

    async def test_a_failed_login_carries_the_rate_limit_headers(
        self, client: AsyncClient, acme: Org
    ) -> None:
        email = acme.member.user.email
        first = await client.post(
            "/api/v1/auth/token",
            data={"username": email, "password": "wrong password!!"},
            headers={"X-Tenant": acme.tenant.slug},
        )
        second = await client.post(
            "/api/v1/auth/token",
            data={"username": email, "password": "wrong password!!"},
            headers={"X-Tenant": acme.tenant.slug},
        )

        assert_problem(first, 401)
        assert_problem(second, 401)
        assert all(name in first.headers for name in self.RATE_LIMIT_HEADERS), first.headers
        # The per-account rule (10 per 300 s by default) is the one applied last.
        assert first.headers["ratelimit-limit"] == "10"
        remaining = [int(r.headers["ratelimit-remaining"]) for r in (first, second)]
        assert remaining == [9, 8]

    async def test_an_invalid_login_form_carries_the_per_address_headers(
        self, client: AsyncClient, acme: Org
    ) -> None:
        response = await client.post(
            "/api/v1/auth/token",
            data={"username": acme.member.user.email},  # no password
            headers={"X-Tenant": acme.tenant.slug},
        )

        assert_problem(response, 422)
        # The per-account rule needs the form, so only the per-address rule counted this one.
        assert response.headers["ratelimit-limit"] == "30"
