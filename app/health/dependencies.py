from typing import Annotated

from fastapi import Depends

from app.api.deps import RedisDep, ResourcesDep, SessionDep, SettingsDep
from app.health.service import HealthService


async def get_health_service(
    session: SessionDep, redis: RedisDep, resources: ResourcesDep, settings: SettingsDep
) -> HealthService:
    return HealthService(
        session,
        redis,
        expected_heads=resources.migration_heads,
        timeout_seconds=settings.health.check_timeout_seconds,
    )


HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
