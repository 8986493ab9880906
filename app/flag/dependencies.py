import functools
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import ReadSessionDep, RequestContextDep
from app.core.errors import raises
from app.flag.exceptions import FeatureOffError
from app.flag.repository import FlagRepository
from app.flag.service import FlagService


async def get_flag_service(context: RequestContextDep) -> FlagService:
    return FlagService(FlagRepository(context.session, context.tenant_id), context.resources.cache)


FlagServiceDep = Annotated[FlagService, Depends(get_flag_service)]


async def get_flag_reader(context: RequestContextDep, session: ReadSessionDep) -> FlagService:
    """The same service over the read session, for the read-only routes (as projects have it)."""
    repository = FlagRepository.reading(session, context.tenant_id)
    return FlagService(repository, context.resources.cache)


FlagReaderDep = Annotated[FlagService, Depends(get_flag_reader)]


@functools.cache
def require_feature(key: str) -> Callable[..., Awaitable[None]]:
    """A guard: the route answers 404 (as if it did not exist) unless flag `key` is on for the
    caller's tenant. Memoised, so `require_feature("x")` is one overridable object."""

    @raises(FeatureOffError)
    async def feature_guard(flags: FlagServiceDep) -> None:
        if not await flags.is_enabled(key):
            raise FeatureOffError

    feature_guard.__name__ = feature_guard.__qualname__ = f"require_feature_{key}"
    return feature_guard
