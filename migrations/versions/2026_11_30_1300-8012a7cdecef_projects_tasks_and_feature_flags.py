"""projects, tasks and feature flags

Revision ID: 8012a7cdecef
Revises:
Depends on: 8e5f3b0c2a4d
Create Date: 2026-11-28 18:31:23.826503+00:00

The demo domain's tables, at the root of the `demo` branch: the demo's revisions (this one and
3c9e7a1b2d4f) form a branch of their own beside the `spine`, which needs the spine as it stood at
8e5f3b0c2a4d (depends_on) and which no spine revision revises. So a new spine revision runs on a
database that is already past the demo's (`alembic upgrade heads` applies both branches), and a
project generated without the demo deletes the branch and keeps a spine that stands alone
(tests/template/test_demo_revisions.py checks both).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from migrations.security import disable_tenant_isolation, enable_tenant_isolation

revision: str = "8012a7cdecef"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("demo",)
depends_on: str | Sequence[str] | None = "8e5f3b0c2a4d"

NOW = sa.text("now()")
NEW_UUID = sa.text("gen_random_uuid()")
TABLES = ("projects", "tasks", "feature_flags")
task_status = sa.Enum("todo", "doing", "done", name="task_status")


def _owned(table: str) -> list[Any]:
    """The columns and constraints every tenant-owned table starts with."""
    return [
        sa.Column("id", sa.Uuid(), server_default=NEW_UUID, nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
        ),
    ]


def _timestamps() -> list[Any]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "projects",
        *_owned("projects"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_projects_created_by_users", ondelete="SET NULL"
        ),
        sa.UniqueConstraint("tenant_id", "name", name="uq_projects_tenant_id_name"),
    )
    op.create_index("ix_projects_created_by", "projects", ["created_by"])
    op.create_index(
        "ix_projects_tenant_id_created_at_id", "projects", ["tenant_id", "created_at", "id"]
    )

    op.create_table(
        "tasks",
        *_owned("tasks"),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("status", task_status, server_default="todo", nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_tasks_project_id_projects", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name="fk_tasks_assignee_id_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_tasks_assignee_id", "tasks", ["assignee_id"])
    op.create_index(
        "ix_tasks_project_id_created_at_id", "tasks", ["project_id", "created_at", "id"]
    )
    op.create_index(
        "ix_tasks_project_id_status_created_at_id",
        "tasks",
        ["project_id", "status", "created_at", "id"],
    )
    op.create_index(
        "ix_tasks_project_id_assignee_id_created_at_id",
        "tasks",
        ["project_id", "assignee_id", "created_at", "id"],
    )

    op.create_table(
        "feature_flags",
        *_owned("feature_flags"),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("tenant_id", "key", name="uq_feature_flags_tenant_id_key"),
    )

    for table in TABLES:
        enable_tenant_isolation(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_tenant_isolation(table)
        op.drop_table(table)
    task_status.drop(op.get_bind(), checkfirst=False)
