"""outbox

Revision ID: 6a1f3c5e7b9d
Revises: 5e3a7b9c2d4f
Create Date: 2026-11-30 10:00:00+00:00

The transactional outbox: a row per domain event, inserted by the request in the transaction of
its change. Tenant-owned, so row-level security like every such table: the API's role writes
and reads only the bound tenant's rows.

The relay (`python -m app.worker`) must read every tenant's rows, and so must its housekeeping.
It crosses the wall only through the SECURITY DEFINER functions below, each doing one job and
nothing else (docs/security.md, "The worker's crossings"): claim a batch, mark rows sent, defer a
row after a failed publish, count the backlog, delete old sent rows, delete expired refresh
tokens. RLS stays enabled, for the API's role and the worker's alike.

`outbox_claim` takes a tenant only if it can take a transaction-level advisory lock on it
(`pg_try_advisory_xact_lock`, skipped when another worker holds it: SKIP LOCKED at the tenant's
grain), then that tenant's oldest unsent rows FOR UPDATE. Two workers therefore never hold rows
of one tenant at once, which is what keeps each tenant's events in order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.security import APP_ROLE, disable_tenant_isolation, enable_tenant_isolation

revision: str = "6a1f3c5e7b9d"
down_revision: str | Sequence[str] | None = "5e3a7b9c2d4f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "outbox"
CLAIM = """
CREATE FUNCTION outbox_claim(p_limit integer)
RETURNS TABLE (id uuid, tenant_id uuid, type text, data jsonb, occurred_at timestamptz,
               attempts integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    candidate uuid;
    taken integer := 0;
    got integer;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'outbox_claim takes a positive limit, not %', p_limit;
    END IF;
    -- Tenants with unsent rows and none waiting for a retry, the longest waiting first.
    FOR candidate IN
        SELECT o.tenant_id FROM public.outbox o
        WHERE o.sent_at IS NULL
        GROUP BY o.tenant_id
        HAVING bool_and(o.retry_at IS NULL OR o.retry_at <= clock_timestamp())
        ORDER BY min(o.position)
    LOOP
        CONTINUE WHEN NOT pg_try_advisory_xact_lock(
            hashtext('dependable.outbox'), hashtext(candidate::text));
        -- A new snapshot: what a worker that held this tenant a moment ago committed is seen.
        RETURN QUERY
            SELECT o.id, o.tenant_id, o.type::text, o.data, o.occurred_at, o.attempts
            FROM public.outbox o
            WHERE o.tenant_id = candidate AND o.sent_at IS NULL
              AND NOT EXISTS (
                  SELECT FROM public.outbox w
                  WHERE w.tenant_id = candidate AND w.sent_at IS NULL
                    AND w.retry_at > clock_timestamp())
            ORDER BY o.position
            LIMIT p_limit - taken
            FOR UPDATE;
        GET DIAGNOSTICS got = ROW_COUNT;
        taken := taken + got;
        EXIT WHEN taken >= p_limit;
    END LOOP;
END
$$
"""

MARK_SENT = """
CREATE FUNCTION outbox_mark_sent(p_ids uuid[]) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH sent AS (
        UPDATE public.outbox SET sent_at = clock_timestamp(), retry_at = NULL
        WHERE id = ANY(p_ids) AND sent_at IS NULL
        RETURNING 1
    )
    SELECT count(*)::integer FROM sent
$$
"""

DEFER = """
CREATE FUNCTION outbox_defer(p_id uuid, p_error text, p_delay_seconds double precision)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    UPDATE public.outbox
    SET attempts = attempts + 1,
        last_error = left(p_error, 1000),
        retry_at = clock_timestamp() + make_interval(secs => greatest(p_delay_seconds, 0))
    WHERE id = p_id AND sent_at IS NULL
$$
"""

BACKLOG = """
CREATE FUNCTION outbox_backlog(OUT pending bigint, OUT oldest_seconds double precision)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT count(*),
           coalesce(extract(epoch FROM clock_timestamp() - min(occurred_at)), 0)::double precision
    FROM public.outbox WHERE sent_at IS NULL
$$
"""

PURGE_SENT = """
CREATE FUNCTION purge_sent_outbox(p_retention_seconds integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    deleted bigint;
BEGIN
    IF p_retention_seconds IS NULL OR p_retention_seconds < 60 THEN
        RAISE EXCEPTION 'sent outbox rows are kept at least 60 seconds, not %',
            p_retention_seconds;
    END IF;
    DELETE FROM public.outbox
    WHERE sent_at < clock_timestamp() - make_interval(secs => p_retention_seconds);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$
"""

PURGE_REFRESH_TOKENS = """
CREATE FUNCTION purge_expired_refresh_tokens(p_grace_seconds integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    deleted bigint;
BEGIN
    IF p_grace_seconds IS NULL OR p_grace_seconds < 60 THEN
        RAISE EXCEPTION 'expired refresh tokens are kept at least 60 seconds, not %',
            p_grace_seconds;
    END IF;
    DELETE FROM public.refresh_tokens
    WHERE expires_at < clock_timestamp() - make_interval(secs => p_grace_seconds);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$
"""

FUNCTIONS = {
    "outbox_claim(integer)": CLAIM,
    "outbox_mark_sent(uuid[])": MARK_SENT,
    "outbox_defer(uuid, text, double precision)": DEFER,
    "outbox_backlog()": BACKLOG,
    "purge_sent_outbox(integer)": PURGE_SENT,
    "purge_expired_refresh_tokens(integer)": PURGE_REFRESH_TOKENS,
}


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{TABLE}_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_outbox_pending",
        TABLE,
        ["tenant_id", "position"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_index(f"ix_{TABLE}_sent_at", TABLE, ["sent_at"])
    # Housekeeping deletes refresh tokens by expiry.
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])
    enable_tenant_isolation(TABLE)
    for signature, definition in FUNCTIONS.items():
        op.execute(definition)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def downgrade() -> None:
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {signature}")
    disable_tenant_isolation(TABLE)
    op.drop_index("ix_refresh_tokens_expires_at", table_name="refresh_tokens")
    op.drop_table(TABLE)
