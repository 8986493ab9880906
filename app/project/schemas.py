import uuid
from datetime import datetime

from app.http.schemas import Description, Name, Omittable, RequestBody, Schema


class ProjectCreate(RequestBody):
    name: Name
    description: Description = ""


class ProjectUpdate(RequestBody):
    """Only the fields sent change; `null` is refused (neither may be empty)."""

    name: Omittable[Name] = None
    description: Omittable[Description] = None


class ProjectRead(Schema):
    id: uuid.UUID
    name: str
    description: str
    created_by: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
