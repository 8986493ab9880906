from datetime import datetime

from app.http.schemas import Boolean, RequestBody, Schema

FLAG_KEY = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class FlagRead(Schema):
    key: str
    enabled: bool
    updated_at: datetime


class FlagSet(Schema):
    """Every flag of a tenant, as cached: unknown keys are off."""

    flags: dict[str, bool]


class FlagUpdate(RequestBody):
    enabled: Boolean
