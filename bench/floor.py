"""FastAPI's own floor: what a route costs before any application code runs.

Two routes, compared with the baseline's empty Starlette route: `/empty` (no dependencies) and
`/deps10` (ten trivial async dependencies, each returning a constant). Nothing from `app/` is
imported: this is the framework alone, as `uvicorn --factory bench.floor:create_app` serves it.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI


def _trivial(number: int) -> Callable[[], Awaitable[int]]:
    async def dependency() -> int:
        return number

    dependency.__name__ = dependency.__qualname__ = f"dependency_{number}"
    return dependency


D0, D1, D2, D3, D4, D5, D6, D7, D8, D9 = (_trivial(n) for n in range(10))


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/empty")
    async def empty() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/deps10")
    async def deps10(
        d0: Annotated[int, Depends(D0)],
        d1: Annotated[int, Depends(D1)],
        d2: Annotated[int, Depends(D2)],
        d3: Annotated[int, Depends(D3)],
        d4: Annotated[int, Depends(D4)],
        d5: Annotated[int, Depends(D5)],
        d6: Annotated[int, Depends(D6)],
        d7: Annotated[int, Depends(D7)],
        d8: Annotated[int, Depends(D8)],
        d9: Annotated[int, Depends(D9)],
    ) -> dict[str, bool]:
        return {"ok": d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7 + d8 + d9 == 45}

    return app
