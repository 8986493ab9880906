"""creation order within a transaction

Revision ID: 3c9e7a1b2d4f
Revises: 8012a7cdecef
Create Date: 2026-11-28 19:15:00+00:00

`now()` is the transaction's start time, so rows created together (a bulk insert) shared one
`created_at` and listed in random id order. `clock_timestamp()` advances per row, so keyset
pages of projects and tasks follow creation order (and `updated_at` follows suit, so a new row
is never "updated" before it was created). A revision of the demo's branch (see 8012a7cdecef).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c9e7a1b2d4f"
down_revision: str | Sequence[str] | None = "8012a7cdecef"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("projects", "tasks")


COLUMNS = ("created_at", "updated_at")


def upgrade() -> None:
    for table in TABLES:
        for column in COLUMNS:
            op.alter_column(table, column, server_default=sa.text("clock_timestamp()"))


def downgrade() -> None:
    for table in TABLES:
        for column in COLUMNS:
            op.alter_column(table, column, server_default=sa.text("now()"))
