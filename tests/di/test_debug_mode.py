"""`debug=True` (Starlette 1.10 `ServerErrorMiddleware.debug_response`, placed outermost by
FastAPI 0.165's `build_middleware_stack`): an exception that reaches that middleware is answered
with its traceback. The HTML page (for `Accept: text/html`) shows the exception's message, the
file paths and the source lines around each frame; the traceback is captured with its locals
but their values are not rendered. The plain-text page is the formatted traceback. Either way
it hands a client source code and whatever the exception message carried, so it must never
reach production: the app's lifespan refuses to start with it outside development
(`refuse_debug_outside_development` in app/main.py).

In Dependable the page would rarely show even with debug on: `RequestContextMiddleware` sits
inside `ServerErrorMiddleware` and answers every exception that escapes a route with its own
problem+json 500."""

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.main import DebugOutsideDevelopmentError, create_app
from tests.di.asgi import client_for
from tests.fixtures.secrets import production_settings
from tests.fixtures.settings import make_settings


def build_app(*, debug: bool) -> FastAPI:
    app = FastAPI(debug=debug)

    @app.get("/boom")
    async def boom() -> None:
        database_password = "-".join(["hunter2", "local"])  # a local, not in the source as is
        raise RuntimeError(f"cannot reach db.internal (tried {len(database_password)} chars)")

    return app


async def test_the_debug_page_shows_source_and_message_but_not_local_values() -> None:
    async with client_for(build_app(debug=True), raise_app_exceptions=False) as client:
        html = await client.get("/boom", headers={"Accept": "text/html"})
        text = await client.get("/boom")
    async with client_for(build_app(debug=False), raise_app_exceptions=False) as client:
        plain = await client.get("/boom", headers={"Accept": "text/html"})

    assert (html.status_code, text.status_code) == (500, 500)
    assert "cannot reach db.internal" in html.text  # the exception's message
    assert "database_password" in html.text  # the source around the frame
    assert __file__ in html.text  # the file paths
    assert "hunter2-local" not in html.text  # a local's value: captured, not rendered
    assert "cannot reach db.internal" in text.text
    assert "Traceback" in text.text
    assert plain.text == "Internal Server Error"


@pytest.mark.parametrize("app_env", ["production", "staging", "test"])
async def test_the_app_refuses_debug_outside_development(app_env: str) -> None:
    settings = production_settings(app_env=app_env) if app_env != "test" else make_settings()
    app = create_app(settings)
    app.debug = True

    with pytest.raises(DebugOutsideDevelopmentError, match=f"APP_ENV={app_env}"):
        async with app.router.lifespan_context(app):
            pass


async def test_even_with_debug_the_apps_own_500_answers_first() -> None:
    app = create_app(make_settings(app_env="development"))
    app.debug = True

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("cannot reach db.internal")

    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/boom", headers={"Accept": "text/html"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "db.internal" not in response.text
