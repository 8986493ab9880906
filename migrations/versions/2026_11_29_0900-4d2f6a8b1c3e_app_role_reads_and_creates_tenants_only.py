"""app role reads and creates tenants only

Revision ID: 4d2f6a8b1c3e
Revises: 5b1d0c7e2f43
Create Date: 2026-11-29 09:00:00+00:00

`tenants` has no row-level security, and every tenant-owned table references it with
`ON DELETE CASCADE`: with DELETE on it, the application role could remove any tenant and, through
the cascade, that tenant's rows beneath their policies; with UPDATE, re-key or deactivate any
tenant. The API only reads tenants and inserts one at signup, so that is all the role keeps.
Deactivating or deleting a tenant is an operator's job, done as the owner.
"""

from collections.abc import Sequence

from alembic import op

from migrations.security import APP_ROLE

revision: str = "4d2f6a8b1c3e"
down_revision: str | Sequence[str] | None = "5b1d0c7e2f43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON tenants FROM {APP_ROLE}")


def downgrade() -> None:
    op.execute(f"GRANT UPDATE, DELETE ON tenants TO {APP_ROLE}")
