"""Scheduled housekeeping: delete what nobody needs any more, in every tenant, one worker at a
time.

Each worker runs it every WORKER__HOUSEKEEPING_INTERVAL_SECONDS, in one transaction that first
tries an advisory lock: a worker that finds it taken skips the run (another is at it), so two
runs never overlap. What goes: outbox rows relayed more than EVENTS__SENT_RETENTION_SECONDS ago,
refresh tokens expired for longer than an access token can outlive its session's revocation, and
idempotency keys older than IDEMPOTENCY__TTL_SECONDS. Each through its SECURITY DEFINER function
(the application role cannot see past its tenant; docs/security.md).
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.repository import ExpiredRefreshTokens
from app.core.config import Settings
from app.core.db import try_transaction_lock
from app.http.deps import SessionDep, SettingsDep
from app.idempotency.repository import ExpiredIdempotencyKeys
from app.outbox.repository import PendingEvents

LOCK_NAME = "dependable:housekeeping"
# Beyond the access TTL and leeway: a minute's margin for clocks.
MARGIN_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Retention:
    sent_events_seconds: int
    expired_refresh_tokens_seconds: int
    idempotency_keys_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "Retention":
        # A revoked family must stay visible until every access token of it has expired: the
        # Redis-down revocation check reads it (docs/security.md). The family's last access
        # token was issued no later than its last refresh token's expiry.
        auth = settings.auth
        return cls(
            sent_events_seconds=settings.events.sent_retention_seconds,
            expired_refresh_tokens_seconds=auth.access_ttl_seconds
            + auth.leeway_seconds
            + MARGIN_SECONDS,
            idempotency_keys_seconds=settings.idempotency.ttl_seconds,
        )


class Housekeeping:
    def __init__(self, session: AsyncSession, retention: Retention) -> None:
        self.session = session
        self.retention = retention

    async def run(self) -> dict[str, int] | None:
        """Rows deleted, by table; None when another worker holds the lock (nothing done)."""
        if not await try_transaction_lock(self.session, LOCK_NAME):
            return None
        retention = self.retention
        return {
            "outbox": await PendingEvents(self.session).purge_sent(
                retention_seconds=retention.sent_events_seconds
            ),
            "refresh_tokens": await ExpiredRefreshTokens(self.session).purge(
                grace_seconds=retention.expired_refresh_tokens_seconds
            ),
            "idempotency_keys": await ExpiredIdempotencyKeys(self.session).purge(
                ttl_seconds=retention.idempotency_keys_seconds
            ),
        }


async def get_housekeeping(session: SessionDep, settings: SettingsDep) -> Housekeeping:
    """One housekeeping run, in the session's transaction (which holds the lock)."""
    return Housekeeping(session, Retention.from_settings(settings))
