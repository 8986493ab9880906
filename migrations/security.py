"""Helpers for the migrations that set up the second wall: the application role and row-level
security. Every tenant-owned table's migration calls `enable_tenant_isolation`."""

from alembic import context, op
from sqlalchemy.engine import make_url

# The group role that holds the application's privileges. The login role the app connects as
# (the user in DATABASE__URL) is made a member of it. Neither owns a table nor bypasses RLS.
APP_ROLE = "dependable_app"

# NULLIF: a transaction-local setting reads as '' (not NULL) after its transaction ends, and
# ''::uuid would be an error rather than "no tenant".
CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def enable_tenant_isolation(table: str) -> None:
    """Rows of `table` are visible and writable only while `app.tenant_id` names their tenant.

    Not FORCEd: the owner (the migration role) keeps bypassing RLS, which the SECURITY DEFINER
    functions rely on; the application role is not the owner, so the policy binds it.
    """
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )


def disable_tenant_isolation(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def ensure_app_role() -> None:
    """Create the group role (roles are cluster-wide, so only when missing) and, when the
    app's login user differs from the migration user, that login role as a member of it."""
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"{_literal(APP_ROLE)}) THEN CREATE ROLE {_ident(APP_ROLE)} NOLOGIN; END IF; END $$"
    )
    settings = context.config.attributes.get("settings")
    if settings is None:
        return
    app_url = make_url(settings.database.url)
    owner_url = make_url(settings.database.owner_url)
    user = app_url.username
    if not user or user == owner_url.username:
        return
    password = f" PASSWORD {_literal(app_url.password)}" if app_url.password else ""
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"{_literal(user)}) THEN CREATE ROLE {_ident(user)} LOGIN NOSUPERUSER NOBYPASSRLS"
        f"{password}; END IF; END $$"
    )
    op.execute(f"GRANT {_ident(APP_ROLE)} TO {_ident(user)}")
