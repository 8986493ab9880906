"""The `outbox` table: one row per domain event, inserted in the transaction of its change.

`position` orders the rows (an identity column: positions grow in the order rows are inserted);
the relay publishes each tenant's rows in that order and stamps `sent_at`. A failed publish
counts an attempt and sets `retry_at`, which holds back that tenant's rows until then.
`traceparent` carries the recording request's trace to the relay.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import TenantOwned


class OutboxEvent(TenantOwned):
    """`id` is the event's own id, the one consumers deduplicate by."""

    __tablename__ = "outbox"
    __table_args__ = (
        # What the relay reads: a tenant's unsent rows in order (and which tenants have some).
        Index(
            "ix_outbox_pending",
            "tenant_id",
            "position",
            postgresql_where=text("sent_at IS NULL"),
        ),
        Index(None, "sent_at"),  # housekeeping deletes old sent rows
    )

    position: Mapped[int] = mapped_column(BigInteger, Identity(always=True))
    type: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    retry_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    # The W3C trace context of the request that recorded the event (null with tracing off), so
    # the worker's relay span joins that request's trace (app/core/tracing.py).
    traceparent: Mapped[str | None] = mapped_column(Text)
