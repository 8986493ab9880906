"""The `tasks` table: each task belongs to one project of the same tenant."""

import enum
import uuid
from datetime import date

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import OrderedTimestamps, TenantOwned, Versioned


class TaskStatus(enum.StrEnum):
    TODO = "todo"
    DOING = "doing"
    DONE = "done"


class Task(OrderedTimestamps, Versioned, TenantOwned):
    __tablename__ = "tasks"
    __table_args__ = (
        # Keyset pagination within a project, unfiltered and with each list filter.
        Index(None, "project_id", "created_at", "id"),
        Index(None, "project_id", "status", "created_at", "id"),
        Index(None, "project_id", "assignee_id", "created_at", "id"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[TaskStatus] = mapped_column(
        Enum(TaskStatus, name="task_status", values_callable=lambda s: [m.value for m in s]),
        default=TaskStatus.TODO,
        server_default=TaskStatus.TODO.value,
    )
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    due_date: Mapped[date | None]
