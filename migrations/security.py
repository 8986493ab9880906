"""Helpers for the migrations that set up the second wall: the application role and row-level
security. Every tenant-owned table's migration calls `enable_tenant_isolation`."""

import sqlalchemy as sa
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


# The login role's name and password never enter SQL text: they travel as bound parameters into
# two transaction-local settings, and this constant block quotes them itself (`format` with `%I`
# and `%L`). Pasting them into the block instead broke on a `$$`, a quote or a `:name` (which
# SQLAlchemy's `text()` takes for a bind parameter), and could inject SQL.
CREATE_LOGIN_ROLE = """
DO $$
DECLARE
    login_role text := current_setting('dependable.login_role');
    login_password text := NULLIF(current_setting('dependable.login_password'), '');
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = login_role) THEN
        EXECUTE format(
            'CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD %L', login_role, login_password
        );
    END IF;
    EXECUTE format('GRANT %I TO %I', current_setting('dependable.app_role'), login_role);
END $$
"""


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
    op.execute(
        sa.text(
            "SELECT set_config('dependable.app_role', :app_role, true), "
            "set_config('dependable.login_role', :login_role, true), "
            "set_config('dependable.login_password', :password, true)"
        ).bindparams(app_role=APP_ROLE, login_role=user, password=app_url.password or "")
    )
    op.execute(CREATE_LOGIN_ROLE)
    # The rest of the migration transaction has no use for the password.
    op.execute("SELECT set_config('dependable.login_password', '', true)")
