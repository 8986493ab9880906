import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from app.http.schemas import Description, Omittable, RequestBody, Schema, Title
from app.task.models import TaskStatus


class TaskCreate(RequestBody):
    title: Title
    description: Description = ""
    status: TaskStatus = TaskStatus.TODO
    assignee_id: uuid.UUID | None = None
    due_date: date | None = None


class TaskUpdate(RequestBody):
    """Only the fields sent change. `assignee_id` and `due_date` may be set to null (cleared);
    the others may not."""

    title: Omittable[Title] = None
    description: Omittable[Description] = None
    status: Omittable[TaskStatus] = None
    assignee_id: uuid.UUID | None = None
    due_date: date | None = None


class BulkTaskCreate(RequestBody):
    tasks: Annotated[list[TaskCreate], Field(min_length=1, max_length=100)]


class TaskRead(Schema):
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    description: str
    status: TaskStatus
    assignee_id: uuid.UUID | None
    due_date: date | None
    version: int
    created_at: datetime
    updated_at: datetime
