import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from app.http.schemas import RequestBody, Schema, Text, reject_null

Name = Annotated[Text, Field(min_length=1, max_length=200)]
Description = Annotated[Text, Field(max_length=10_000)]


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
