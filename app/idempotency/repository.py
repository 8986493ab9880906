"""SQL for idempotency keys. `claim` is the one statement that decides whether a key may run
its write; PostgreSQL's unique index makes that decision for concurrent requests too."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Interval, func, literal, null, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.repository import TenantOwnedRepository
from app.idempotency.cache import StoredResponse
from app.idempotency.models import IdempotencyKey


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key another transaction committed: its request's fingerprint, its response once
    recorded, and whether it is younger than the pending lease (so perhaps still recording)."""

    fingerprint: str
    response: StoredResponse | None
    recent: bool


def _ago(seconds: int) -> object:
    return func.now() - literal(timedelta(seconds=seconds), Interval())


class IdempotencyKeyRepository(TenantOwnedRepository[IdempotencyKey]):
    model = IdempotencyKey
    constraints_not_hit = {
        "uq_idempotency_keys_tenant_id_key_hash": "claim inserts ON CONFLICT on it, never raising",
    }

    async def claim(self, key_hash: str, fingerprint: str, *, ttl_seconds: int) -> bool:
        """Insert the key's row in the current transaction; True when this request may run.

        A row older than `ttl_seconds` has expired: it is taken over in the same statement.
        Any other row means the key is taken (False). A row another transaction inserted and has
        not yet committed is waited for: if it commits the key is taken, if it rolls back the
        insert goes ahead. Either way exactly one transaction holds a committed row.
        """
        statement = (
            insert(IdempotencyKey)
            .values(
                id=uuid.uuid4(),
                tenant_id=self.tenant_id,
                key_hash=key_hash,
                fingerprint=fingerprint,
            )
            .on_conflict_do_update(
                constraint="uq_idempotency_keys_tenant_id_key_hash",
                set_={
                    "fingerprint": fingerprint,
                    "created_at": func.now(),
                    "response_status": null(),
                    "response_headers": null(),
                    "response_body": null(),
                },
                where=IdempotencyKey.created_at < _ago(ttl_seconds),
            )
            .returning(IdempotencyKey.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def find(self, key_hash: str, *, lease_seconds: int) -> KeyRecord | None:
        """The committed row for `key_hash` (never waits: an uncommitted row is not seen)."""
        recent = (IdempotencyKey.created_at > _ago(lease_seconds)).label("recent")
        statement = select(
            IdempotencyKey.fingerprint,
            IdempotencyKey.response_status,
            IdempotencyKey.response_headers,
            IdempotencyKey.response_body,
            recent,
        ).where(IdempotencyKey.tenant_id == self.tenant_id, IdempotencyKey.key_hash == key_hash)
        row = (await self.session.execute(statement)).first()
        if row is None:
            return None
        response = None
        if row.response_status is not None:
            response = StoredResponse(
                status=row.response_status,
                headers=[(name, value) for name, value in row.response_headers or []],
                body=row.response_body or b"",
            )
        return KeyRecord(row.fingerprint, response, bool(row.recent))

    async def record_response(self, key_hash: str, response: StoredResponse) -> None:
        """Store the response of the write that committed this key (once; never overwritten)."""
        await self.session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.tenant_id == self.tenant_id,
                IdempotencyKey.key_hash == key_hash,
                IdempotencyKey.response_status.is_(None),
            )
            .values(
                response_status=response.status,
                response_headers=[[name, value] for name, value in response.headers],
                response_body=response.body,
            )
        )


class ExpiredIdempotencyKeys:
    """Every tenant's expired keys, for the purge (`dependable purge-idempotency-keys`). Not a
    `Repository`: it writes no rows itself, it calls the one function that may cross tenants."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge(self, *, ttl_seconds: int) -> int:
        """Delete keys older than `ttl_seconds` in all tenants; returns how many.

        Through `purge_idempotency_keys` (SECURITY DEFINER, see the migration): the application
        role cannot see across tenants itself, and the function refuses a TTL under a minute.
        """
        deleted = await self.session.scalar(select(func.purge_idempotency_keys(ttl_seconds)))
        return int(deleted or 0)
