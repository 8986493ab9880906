"""The idempotency keys' repository: the claim takes over only an expired key, and the purge
deletes expired keys of every tenant (through its SECURITY DEFINER function) and nothing else.
The HTTP side of expiry: `test_http.py::TestExpiry`."""

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from app.core.db import SessionFactory
from app.core.tenancy import bind_tenant
from app.idempotency.models import IdempotencyKey
from app.idempotency.repository import ExpiredIdempotencyKeys, IdempotencyKeyRepository
from tests.fixtures.auth import Org

TTL = 3600


async def claim(factory: SessionFactory, org: Org, key: str, *, age_seconds: int = 0) -> bool:
    """Claim `key` for `org` and commit, then make the row `age_seconds` old."""
    async with factory() as session:
        bound = await bind_tenant(session, org.tenant.id)
        claimed = await IdempotencyKeyRepository(bound, org.tenant.id).claim(
            key, "fingerprint", ttl_seconds=TTL
        )
        if age_seconds:
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key_hash == key)
                .values(created_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, age_seconds))
            )
        await session.commit()
        return claimed


async def keys_of(factory: SessionFactory, org: Org) -> set[str]:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        return set((await session.scalars(select(IdempotencyKey.key_hash))).all())


async def test_a_live_key_cannot_be_claimed_again_an_expired_one_can(
    session_factory: SessionFactory, acme: Org
) -> None:
    assert await claim(session_factory, acme, "live", age_seconds=TTL - 10) is True
    assert await claim(session_factory, acme, "old", age_seconds=TTL + 10) is True

    assert await claim(session_factory, acme, "live") is False
    assert await claim(session_factory, acme, "old") is True
    assert await keys_of(session_factory, acme) == {"live", "old"}


async def test_the_purge_deletes_expired_keys_of_every_tenant_and_nothing_else(
    session_factory: SessionFactory, acme: Org, globex: Org
) -> None:
    for org in (acme, globex):
        await claim(session_factory, org, "expired", age_seconds=TTL + 10)
        await claim(session_factory, org, "fresh", age_seconds=TTL - 10)

    async with session_factory() as session:  # no tenant bound: the function crosses the wall
        deleted = await ExpiredIdempotencyKeys(session).purge(ttl_seconds=TTL)
        await session.commit()

    assert deleted == 2
    assert await keys_of(session_factory, acme) == {"fresh"}
    assert await keys_of(session_factory, globex) == {"fresh"}


async def test_the_purge_refuses_a_ttl_under_a_minute(
    session_factory: SessionFactory, acme: Org
) -> None:
    """The application role may call it, so it must not be able to wipe live keys with it."""
    await claim(session_factory, acme, "recent", age_seconds=30)
    async with session_factory() as session:
        with pytest.raises(DBAPIError, match="at least 60 seconds"):
            await ExpiredIdempotencyKeys(session).purge(ttl_seconds=0)
    assert await keys_of(session_factory, acme) == {"recent"}
