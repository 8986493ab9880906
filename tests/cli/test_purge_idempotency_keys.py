"""`purge-idempotency-keys`: deletes the keys older than IDEMPOTENCY__TTL_SECONDS in every
tenant, keeps the others, and says how many it deleted."""

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.cli.conftest import RunCli, Slugs, rows


async def test_deletes_only_the_expired_keys(cli: RunCli, slugs: Slugs, owner: AsyncEngine) -> None:
    tenant_id = uuid.uuid4()
    async with owner.begin() as connection:
        await connection.execute(
            text("INSERT INTO tenants (id, slug, name) VALUES (:id, :slug, 'Keys')"),
            {"id": tenant_id, "slug": slugs.new()},
        )
        for key_hash, age in (("expired", 3601), ("fresh", 3599)):
            await connection.execute(
                text(
                    "INSERT INTO idempotency_keys (tenant_id, key_hash, fingerprint, created_at) "
                    "VALUES (:tenant, :key, 'f', now() - make_interval(secs => :age))"
                ),
                {"tenant": tenant_id, "key": key_hash, "age": age},
            )

    outcome = await cli("purge-idempotency-keys", env={"IDEMPOTENCY__TTL_SECONDS": "3600"})

    assert outcome.exit_code == 0, outcome
    assert "expired idempotency keys" in outcome.stdout
    remaining = await rows(
        owner, "SELECT key_hash FROM idempotency_keys WHERE tenant_id = :t", t=tenant_id
    )
    assert [row[0] for row in remaining] == ["fresh"]
