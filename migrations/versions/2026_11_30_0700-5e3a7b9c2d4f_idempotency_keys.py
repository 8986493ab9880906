"""idempotency keys

Revision ID: 5e3a7b9c2d4f
Revises: 4d2f6a8b1c3e
Create Date: 2026-11-30 07:00:00+00:00

One row per `Idempotency-Key` whose write committed, inserted in the write's own transaction:
the unique index on (tenant_id, key_hash) is what stops a key from running its write twice.
Tenant-owned, so row-level security like every such table. Expired rows are deleted across
tenants by `purge_idempotency_keys`, a SECURITY DEFINER function (the application role cannot
see past its tenant) that refuses a TTL under a minute.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.security import APP_ROLE, disable_tenant_isolation, enable_tenant_isolation

revision: str = "5e3a7b9c2d4f"
down_revision: str | Sequence[str] | None = "4d2f6a8b1c3e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "idempotency_keys"

PURGE_FUNCTION = """
CREATE FUNCTION purge_idempotency_keys(p_ttl_seconds integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    deleted bigint;
BEGIN
    IF p_ttl_seconds IS NULL OR p_ttl_seconds < 60 THEN
        RAISE EXCEPTION 'idempotency keys live at least 60 seconds, not %', p_ttl_seconds;
    END IF;
    DELETE FROM public.idempotency_keys
    WHERE created_at < now() - make_interval(secs => p_ttl_seconds);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{TABLE}_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("tenant_id", "key_hash", name=f"uq_{TABLE}_tenant_id_key_hash"),
    )
    op.create_index(f"ix_{TABLE}_created_at", TABLE, ["created_at"])
    enable_tenant_isolation(TABLE)
    op.execute(PURGE_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION purge_idempotency_keys(integer) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION purge_idempotency_keys(integer) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION purge_idempotency_keys(integer)")
    disable_tenant_isolation(TABLE)
    op.drop_table(TABLE)
