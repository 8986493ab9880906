"""Helpers for the migrations that set up the second wall: the application role and row-level
security. Every tenant-owned table's migration calls `enable_tenant_isolation`."""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.engine import make_url

# The group role that holds the application's privileges. The login role the app connects as
# (the user in DATABASE__URL) is made a member of it. Neither owns a table nor bypasses RLS.
APP_ROLE = "dependable_app"
# The group role that alone may run the worker's cross-tenant SECURITY DEFINER functions (claim,
# mark sent, defer, backlog, the purges). The worker's login (the user in DATABASE__WORKER_URL) is
# a member of it and of APP_ROLE; the API's login is not, so code in the API cannot run them.
RELAY_ROLE = "dependable_relay"

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


def ensure_group_role(role: str) -> None:
    """Create the `NOLOGIN` group role `role` (roles are cluster-wide, so only when missing)."""
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"{_literal(role)}) THEN CREATE ROLE {_ident(role)} NOLOGIN; END IF; END $$"
    )


def _ensure_login_role(url: str | None, owner_url: str, group: str) -> None:
    """Create the login role `url` names (when missing) and make it a member of `group`;
    nothing when `url` is unset or names the migration user."""
    if url is None:
        return
    login_url = make_url(url)
    user = login_url.username
    if not user or user == make_url(owner_url).username:
        return
    op.execute(
        sa.text(
            "SELECT set_config('dependable.app_role', :app_role, true), "
            "set_config('dependable.login_role', :login_role, true), "
            "set_config('dependable.login_password', :password, true)"
        ).bindparams(app_role=group, login_role=user, password=login_url.password or "")
    )
    op.execute(CREATE_LOGIN_ROLE)
    # The rest of the migration transaction has no use for the password.
    op.execute("SELECT set_config('dependable.login_password', '', true)")


def ensure_app_role() -> None:
    """Create the group role and, when the app's login user differs from the migration user,
    that login role as a member of it."""
    ensure_group_role(APP_ROLE)
    settings = context.config.attributes.get("settings")
    if settings is not None:
        _ensure_login_role(settings.database.url, settings.database.owner_url, APP_ROLE)


def ensure_worker_role() -> None:
    """Create the relay's group role and, from DATABASE__WORKER_URL when it is set (and differs
    from the migration user), the worker's login role as a member of it and of the app's group
    (the worker's sessions are the API's own, under row-level security)."""
    ensure_group_role(RELAY_ROLE)
    settings = context.config.attributes.get("settings")
    if settings is None:
        return
    database = settings.database
    worker = make_url(database.worker_url).username if database.worker_url else None
    if worker is not None and worker == make_url(database.url).username:
        msg = (
            f"DATABASE__WORKER_URL names {worker!r}, the API's own login role: the worker needs "
            "a login role of its own, or the API could run the relay's functions"
        )
        raise ValueError(msg)
    for group in (RELAY_ROLE, APP_ROLE):  # created by the first, granted the second
        _ensure_login_role(database.worker_url, database.owner_url, group)
