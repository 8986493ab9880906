"""application role and row-level security

Revision ID: 5b1d0c7e2f43
Revises: e959ad01dd50
Create Date: 2026-11-28 18:20:00+00:00

The application connects as a member of `dependable_app`: DML on the tables, nothing else. It is
neither superuser nor owner, so the `tenant_isolation` policies bind it. Before a tenant is known
(login, signup, refresh) it crosses the wall only through the narrow SECURITY DEFINER function
below. The roles themselves are cluster-wide and survive a downgrade.
"""

from collections.abc import Sequence

from alembic import op

from migrations.security import (
    APP_ROLE,
    disable_tenant_isolation,
    enable_tenant_isolation,
    ensure_app_role,
)

revision: str = "5b1d0c7e2f43"
down_revision: str | Sequence[str] | None = "e959ad01dd50"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_OWNED = ("users", "refresh_tokens")

TENANT_LOOKUP_FUNCTION = """
CREATE FUNCTION refresh_token_tenant(p_token_hash text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT tenant_id FROM public.refresh_tokens WHERE token_hash = p_token_hash
$$
"""


def upgrade() -> None:
    ensure_app_role()
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {APP_ROLE}")
    # Tables later migrations create (as this same owner) get the same grants.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    for table in TENANT_OWNED:
        enable_tenant_isolation(table)
    # Refresh presents an opaque token before any tenant is known: this answers one question
    # (which tenant issued this token hash?) across the wall, and nothing else.
    op.execute(TENANT_LOOKUP_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION refresh_token_tenant(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION refresh_token_tenant(text) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION refresh_token_tenant(text)")
    for table in reversed(TENANT_OWNED):
        disable_tenant_isolation(table)
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
