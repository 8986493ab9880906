from collections.abc import Sequence

from app.core.repository import TenantScopedRepository
from app.flag.models import FeatureFlag


class FlagRepository(TenantScopedRepository[FeatureFlag]):
    model = FeatureFlag

    async def list(self) -> Sequence[FeatureFlag]:
        return (await self.session.scalars(self._select().order_by(FeatureFlag.key))).all()

    async def get_by_key(self, key: str) -> FeatureFlag | None:
        return await self.session.scalar(self._select().where(FeatureFlag.key == key))
