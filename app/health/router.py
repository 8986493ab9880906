from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.health.dependencies import HealthServiceDep
from app.health.schemas import LivenessRead, ReadinessRead
from app.http.routing import ProblemRoute

router = APIRouter(prefix="/health", tags=["health"], route_class=ProblemRoute)


@router.get("/live")
async def live() -> LivenessRead:
    """The process is up and serving (no I/O: restart the container only if this fails)."""
    return LivenessRead()


@router.get(
    "/ready",
    response_model=ReadinessRead,
    responses={503: {"model": ReadinessRead, "description": "PostgreSQL down or behind head"}},
)
async def ready(service: HealthServiceDep) -> JSONResponse:
    """Ready for traffic: PostgreSQL answers and is at the migration head. Redis is reported but
    soft: when it is down the answer is still 200, with Redis marked `degraded`."""
    report = await service.readiness()
    body = ReadinessRead.model_validate(report)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if report.ready else 503)
