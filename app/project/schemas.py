import uuid
from datetime import datetime

from pydantic import field_validator

from app.http.schemas import Description, Name, RequestBody, Schema, reject_null


class ProjectCreate(RequestBody):
    name: Name
    description: Description = ""


class ProjectUpdate(RequestBody):
    """Only the fields sent change; `null` is refused (neither may be empty)."""

    name: Name | None = None
    description: Description | None = None

    _not_null = field_validator("name", "description")(reject_null)


class ProjectRead(Schema):
    id: uuid.UUID
    name: str
    description: str
    created_by: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
