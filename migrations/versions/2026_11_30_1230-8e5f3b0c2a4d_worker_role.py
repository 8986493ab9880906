"""worker role

Revision ID: 8e5f3b0c2a4d
Revises: 7c4e2a9b1d3f
Create Date: 2026-11-30 12:30:00+00:00

The worker's six cross-tenant functions become the worker's alone. Until now `dependable_app` could
run them, so code in the API's process could claim other tenants' pending events. Here
`EXECUTE` on each moves to a new group role, `dependable_relay`, of which only the worker's
login (the user in DATABASE__WORKER_URL, created here when missing) is a member; the API's login
is a member of `dependable_app` only (docs/security.md, "The worker's crossings"). The worker's
login is also a member of `dependable_app`: its sessions are the API's own `get_session`, under
row-level security like any other.
"""

from collections.abc import Sequence

from alembic import op

from migrations.security import APP_ROLE, RELAY_ROLE, ensure_worker_role

revision: str = "8e5f3b0c2a4d"
down_revision: str | Sequence[str] | None = "7c4e2a9b1d3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The outbox revision's six: every function only the worker calls. (`refresh_token_tenant` stays
# the API's, refresh needs it; `purge_idempotency_keys` stays `dependable_app`'s, as the admin
# CLI's `purge-idempotency-keys` runs it with DATABASE__URL, and it reads nothing.)
WORKER_FUNCTIONS = (
    "outbox_claim(integer)",
    "outbox_mark_sent(uuid[])",
    "outbox_defer(uuid, text, double precision)",
    "outbox_backlog()",
    "purge_sent_outbox(integer)",
    "purge_expired_refresh_tokens(integer)",
)


def upgrade() -> None:
    ensure_worker_role()
    op.execute(f"GRANT USAGE ON SCHEMA public TO {RELAY_ROLE}")
    for signature in WORKER_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC, {APP_ROLE}")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {RELAY_ROLE}")


def downgrade() -> None:
    for signature in reversed(WORKER_FUNCTIONS):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM {RELAY_ROLE}")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {RELAY_ROLE}")
