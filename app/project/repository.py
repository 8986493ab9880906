from collections.abc import Sequence

from app.core.pagination import PageRequest, keyset
from app.core.repository import TenantScopedRepository
from app.project.exceptions import ProjectNameTakenError
from app.project.models import Project


class ProjectRepository(TenantScopedRepository[Project]):
    model = Project
    constraint_errors = {"uq_projects_tenant_id_name": ProjectNameTakenError}

    async def list(self, page: PageRequest) -> Sequence[Project]:
        return (await self.session.scalars(keyset(self._select(), Project, page))).all()
