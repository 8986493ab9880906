"""Dependencies outside a request: the admin commands (and any background worker) build their
services from the very provider functions the routes use, not from a hand-written copy of the
graph, so a provider's new parameter reaches them as it reaches every route.

    async with resolved(get_user_service, given={get_request_context: context}) as users:
        await users.create(...)

`resolved` walks the provider's `Depends()` parameters as FastAPI walks them for a request, from
FastAPI's own reading of the signature (`get_dependant`, so an `Annotated` alias means the same
here):
- a dependency runs once per `resolved` block, however often it is declared, unless it is
  declared `use_cache=False` (FastAPI's per-request cache, per block);
- a `yield` dependency is entered when first needed and closed when the block ends, in reverse
  order, seeing the block's exception (so the session's transaction commits on success and rolls
  back on an error, as `get_session` does for a request);
- `overrides` replaces a provider as `app.dependency_overrides` does (tests pass the app's);
- `given` supplies a dependency's value outright. What only a request has (a header, a query
  parameter, the `Request` itself, a security scheme) cannot be resolved here: give the
  dependency that reads it (`get_resources`, `get_request_context`), or `resolved` says which
  parameter is missing.

Proof: tests/di/test_outside_request.py.
"""

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
)
from typing import Any, TypeVar, cast, overload

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant

T = TypeVar("T")
Provider = Callable[..., Any]

_REQUEST_ONLY = (
    "request_param_name",
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)


class OutsideRequestError(TypeError):
    """A dependency needs something only a request has, and `given` does not supply it."""


class _Resolver:
    def __init__(
        self,
        stack: AsyncExitStack,
        given: Mapping[Provider, Any],
        overrides: Mapping[Provider, Provider],
    ) -> None:
        self.stack = stack
        self.given = given
        self.overrides = overrides
        self.cache: dict[Provider, Any] = {}

    async def value(self, dependant: Dependant) -> Any:
        call = cast(Provider, dependant.call)
        if call in self.given:
            return self.given[call]
        override = self.overrides.get(call)
        if override is not None:
            dependant = get_dependant(path="", call=override, name=dependant.name)
            call = override
        if dependant.use_cache and call in self.cache:
            return self.cache[call]
        _refuse_request_parameters(dependant)
        arguments = {cast(str, sub.name): await self.value(sub) for sub in dependant.dependencies}
        value = await self._call(call, arguments)
        if dependant.use_cache:
            self.cache[call] = value
        return value

    async def _call(self, call: Provider, arguments: dict[str, Any]) -> Any:
        if inspect.isasyncgenfunction(call):
            return await self.stack.enter_async_context(asynccontextmanager(call)(**arguments))
        if inspect.isgeneratorfunction(call):
            return self.stack.enter_context(contextmanager(call)(**arguments))
        result = call(**arguments)
        return await result if inspect.isawaitable(result) else result


def _refuse_request_parameters(dependant: Dependant) -> None:
    needs = [
        f"{kind} {param.alias!r}"
        for kind, params in (
            ("path parameter", dependant.path_params),
            ("query parameter", dependant.query_params),
            ("header", dependant.header_params),
            ("cookie", dependant.cookie_params),
            ("body field", dependant.body_params),
        )
        for param in params
    ]
    needs += [
        attribute.removesuffix("_param_name").replace("_", " ")
        for attribute in _REQUEST_ONLY
        if getattr(dependant, attribute) is not None
    ]
    if needs:
        name = getattr(dependant.call, "__qualname__", repr(dependant.call))
        raise OutsideRequestError(
            f"{name} needs a request ({', '.join(needs)}): give it, or the dependency that "
            "uses it, in `given`"
        )


@overload
def resolved(
    provider: Callable[..., AsyncIterator[T]],
    *,
    given: Mapping[Provider, Any] | None = None,
    overrides: Mapping[Provider, Provider] | None = None,
) -> AbstractAsyncContextManager[T]: ...


@overload
def resolved(
    provider: Callable[..., Awaitable[T]],
    *,
    given: Mapping[Provider, Any] | None = None,
    overrides: Mapping[Provider, Provider] | None = None,
) -> AbstractAsyncContextManager[T]: ...


def resolved(
    provider: Provider,
    *,
    given: Mapping[Provider, Any] | None = None,
    overrides: Mapping[Provider, Provider] | None = None,
) -> AbstractAsyncContextManager[Any]:
    """`provider`'s value, with its whole dependency graph resolved; yield dependencies close
    when the block ends. (Typed for async providers, which is what the app's are.)"""
    return _resolved(provider, given or {}, overrides or {})


@asynccontextmanager
async def _resolved(
    provider: Provider, given: Mapping[Provider, Any], overrides: Mapping[Provider, Provider]
) -> AsyncIterator[Any]:
    async with AsyncExitStack() as stack:
        yield await _Resolver(stack, given, overrides).value(get_dependant(path="", call=provider))
