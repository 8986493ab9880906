from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from app.core.repository import TenantOwnedRepository
from app.flag.models import FeatureFlag


class FlagRepository(TenantOwnedRepository[FeatureFlag]):
    model = FeatureFlag
    constraints_not_hit = {
        "uq_feature_flags_tenant_id_key": "flags are written only by `put`, an upsert on it",
    }

    async def list(self) -> Sequence[FeatureFlag]:
        return (await self.session.scalars(self._select().order_by(FeatureFlag.key))).all()

    async def put(self, key: str, *, enabled: bool) -> FeatureFlag:
        """Create the flag or set it, in one statement: `PUT` semantics. Two concurrent puts of a
        new key cannot both insert; the later one waits for the earlier's commit, then updates
        the row it made (the last writer wins, as with any two PUTs)."""
        insert_flag = insert(FeatureFlag).values(tenant_id=self.tenant_id, key=key, enabled=enabled)
        statement = insert_flag.on_conflict_do_update(
            constraint="uq_feature_flags_tenant_id_key",
            set_={"enabled": insert_flag.excluded.enabled, "updated_at": func.now()},
        ).returning(FeatureFlag)
        with self.translating_errors():
            flags = await self.session.scalars(
                statement, execution_options={"populate_existing": True}
            )
        return flags.one()
