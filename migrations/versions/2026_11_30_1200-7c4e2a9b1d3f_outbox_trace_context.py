"""outbox trace context

Revision ID: 7c4e2a9b1d3f
Revises: 6a1f3c5e7b9d
Create Date: 2026-11-30 12:00:00+00:00

An outbox row keeps the W3C `traceparent` of the span that recorded it (null when tracing is
off), and `outbox_claim` returns it, so the worker's relay span joins the request's trace
(docs/operations.md, "Traces"). A function's result type cannot be changed in place: it is
dropped and created again, with the same grants.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.security import APP_ROLE

revision: str = "7c4e2a9b1d3f"
down_revision: str | Sequence[str] | None = "6a1f3c5e7b9d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "outbox_claim(integer)"
# The claim of the outbox revision, unchanged but for the columns it returns ({columns}: the
# declared ones, {selected}: the selected ones).
CLAIM = """
CREATE FUNCTION outbox_claim(p_limit integer)
RETURNS TABLE (id uuid, tenant_id uuid, type text, data jsonb, occurred_at timestamptz,
               attempts integer{columns})
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
            SELECT o.id, o.tenant_id, o.type::text, o.data, o.occurred_at, o.attempts{selected}
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


def _replace_claim(*, columns: str, selected: str) -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(CLAIM.replace("{columns}", columns).replace("{selected}", selected))
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {APP_ROLE}")


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True))
    _replace_claim(columns=",\n               traceparent text", selected=", o.traceparent")


def downgrade() -> None:
    _replace_claim(columns="", selected="")
    op.drop_column("outbox", "traceparent")
