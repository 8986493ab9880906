from typing import Annotated

from fastapi import APIRouter, Path

from app.auth.dependencies import AdminDep, ViewerDep
from app.flag.dependencies import FlagReaderDep, FlagServiceDep
from app.flag.schemas import FLAG_KEY, FlagRead, FlagUpdate
from app.http.routing import ProblemRoute

router = APIRouter(prefix="/flags", tags=["flags"], route_class=ProblemRoute)


@router.get("")
async def list_flags(_: ViewerDep, service: FlagReaderDep) -> list[FlagRead]:
    """The tenant's feature flags (unlisted keys are off)."""
    return [FlagRead.model_validate(flag) for flag in await service.list()]


@router.put("/{key}")
async def set_flag(
    key: Annotated[str, Path(pattern=FLAG_KEY)],
    body: FlagUpdate,
    _: AdminDep,
    service: FlagServiceDep,
) -> FlagRead:
    """Turn a flag on or off for the tenant (admins and owners)."""
    return FlagRead.model_validate(await service.set(key, body))
