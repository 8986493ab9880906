from typing import Literal

from app.health.service import CheckStatus
from app.http.schemas import Schema


class CheckRead(Schema):
    status: CheckStatus
    latency_ms: float
    detail: str | None = None


class ReadinessRead(Schema):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, CheckRead]


class LivenessRead(Schema):
    status: Literal["ok"] = "ok"
