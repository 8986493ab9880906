"""The `idempotency_keys` table: one row per `Idempotency-Key` whose write committed.

The row is inserted in the write's own transaction, so it exists exactly when the write does.
The response columns are filled in a second, short transaction once the response is known.
"""

from sqlalchemy import Index, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import CreatedAt, TenantOwned


class IdempotencyKey(CreatedAt, TenantOwned):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        # The arbiter: two requests with one key cannot both insert (and so both run).
        UniqueConstraint("tenant_id", "key_hash"),
        Index(None, "created_at"),  # the purge of expired keys
    )

    # sha256 of (user, method, route template, key): the key itself is the client's text.
    key_hash: Mapped[str] = mapped_column(String(64))
    # sha256 of (path, body): the same key for a different request is refused (422).
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(SmallInteger)
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSONB(none_as_null=True))
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
