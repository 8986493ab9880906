"""Counting FastAPI's walk: how many dependency nodes `solve_dependencies` visits per request.

`solve_dependencies` calls itself (through its module's global name) once per sub-dependency it
visits, so wrapping that global counts the visits; the route's top-level call comes from
`fastapi.routing`, which holds its own reference and is not counted: the endpoint is the root."""

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies import utils


@contextlib.contextmanager
def counting_walk(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Yields a one-item list holding the number of nodes visited so far."""
    visits = [0]
    real = utils.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        visits[0] += 1
        return await real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(utils, "solve_dependencies", counted)
        yield visits
