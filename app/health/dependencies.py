from typing import Annotated

from fastapi import Depends

from app.health.service import HealthService
from app.http.deps import RedisDep, ResourcesDep, SessionDep, SettingsDep


async def get_health_service(
    session: SessionDep, redis: RedisDep, resources: ResourcesDep, settings: SettingsDep
) -> HealthService:
    return HealthService(
        session,
        redis,
        resources.metrics,
        expected_heads=resources.migration_heads,
        known_revisions=resources.migration_revisions,
        timeout_seconds=settings.health.check_timeout_seconds,
    )


HealthServiceDep = Annotated[HealthService, Depends(get_health_service)]
