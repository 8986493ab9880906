"""Issue 10, item 3: a demoted or deactivated user cannot get their old rights back through the
principal cache. A request that read the user row before the change committed may write the old
principal into the cache *after* the change's invalidation ran. Entries are versioned
(app/core/cache.py): each records the generation of its user read before the database was, and
the invalidation moves the generation on, so such a late entry is never served.

The race is held deterministically: the racing request is paused inside its cache fill (after
its database read) while the change commits, then released."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import BaseModel

from app.core.cache import Cache, Fill, ModelT
from app.core.resources import Resources
from app.identity.cache import principal_key
from tests.fixtures.committed import CommittedOrg
from tests.fixtures.paths import ME


class HeldFill:
    """Wraps the cache: the fill of one key waits until released."""

    def __init__(self, cache: Cache, key: str) -> None:
        self.cache = cache
        self.key = key
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, key: str, model: type[ModelT]) -> ModelT | None:
        return await self.cache.get(key, model)

    async def set(self, key: str, value: BaseModel, *, ttl_seconds: int) -> None:
        await self.cache.set(key, value, ttl_seconds=ttl_seconds)

    async def delete(self, *keys: str) -> None:
        await self.cache.delete(*keys)

    async def get_fresh(
        self, key: str, subject: str, model: type[ModelT]
    ) -> tuple[ModelT | None, object]:
        return await self.cache.get_fresh(key, subject, model)

    async def invalidate(self, *subjects: str) -> None:
        await self.cache.invalidate(*subjects)

    async def fill(self, entries: Sequence[Fill]) -> None:
        if any(entry.key == self.key for entry in entries) and not self.release.is_set():
            self.reached.set()
            await self.release.wait()
        await self.cache.fill(entries)


@pytest.fixture
async def held(app_instance: FastAPI, committed_org: CommittedOrg) -> AsyncIterator[HeldFill]:
    real: Resources = app_instance.state.resources
    member = committed_org.member.user
    hold = HeldFill(real.cache, principal_key(member.tenant_id, member.id))
    app_instance.state.resources = dataclasses.replace(real, cache=hold)
    yield hold
    app_instance.state.resources = real


async def race_a_change(
    client: AsyncClient, org: CommittedOrg, held: HeldFill, change: dict[str, object]
) -> None:
    """The member's request reads their row, then pauses before caching it; meanwhile an admin
    commits `change` to the member (and its invalidation runs); then the request caches what it
    read, which is now older than the invalidation."""
    racing = asyncio.create_task(client.get(ME, headers=org.member.headers))
    async with asyncio.timeout(10):
        await held.reached.wait()
    changed = await client.patch(
        f"/api/v1/users/{org.member.user.id}", json=change, headers=org.admin.headers
    )
    assert changed.status_code == 200, changed.text
    held.release.set()
    raced = await racing
    assert raced.status_code == 200  # it read before the change: right for that request


async def test_item3_a_demotion_racing_a_cache_fill_does_not_restore_the_old_role(
    committing_client: AsyncClient, committed_org: CommittedOrg, held: HeldFill
) -> None:
    await race_a_change(committing_client, committed_org, held, {"role": "viewer"})

    me = await committing_client.get(ME, headers=committed_org.member.headers)

    assert me.json()["role"] == "viewer"
    # demo:begin: and a member's write is refused
    write = await committing_client.post(
        "/api/v1/projects", json={"name": "As a member"}, headers=committed_org.member.headers
    )
    assert write.status_code == 403
    # demo:end


async def test_item3_a_deactivation_racing_a_cache_fill_does_not_revive_the_user(
    committing_client: AsyncClient, committed_org: CommittedOrg, held: HeldFill
) -> None:
    await race_a_change(committing_client, committed_org, held, {"is_active": False})

    me = await committing_client.get(ME, headers=committed_org.member.headers)

    assert me.status_code == 401
