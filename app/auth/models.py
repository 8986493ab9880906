"""The `refresh_tokens` table: one row per issued refresh token, grouped into rotation families."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import CreatedAt, TenantOwned


class RefreshToken(CreatedAt, TenantOwned):
    """Only a SHA-256 of the token is stored: a database leak yields no usable token.

    A login starts a family; each refresh spends its token and issues the next one in the same
    family. Presenting a spent token means it was stolen or replayed, so the family is revoked.
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index(None, "family_id"),
        Index(None, "expires_at"),  # the worker's housekeeping deletes expired tokens
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    spent_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
