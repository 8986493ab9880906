from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlalchemy import Row

from app.auth.exceptions import USER_GONE, InvalidTokenError
from app.core.pagination import PageRequest, keyset
from app.core.repository import TenantOwnedRepository
from app.project.exceptions import ProjectNameTakenError, ProjectNotFoundError
from app.project.models import Project


class ProjectRepository(TenantOwnedRepository[Project]):
    model = Project
    not_found = ProjectNotFoundError
    constraint_errors = {
        "uq_projects_tenant_id_name": ProjectNameTakenError,
        # The creator was deleted while creating it: their token is no longer valid.
        "fk_projects_created_by_users": partial(InvalidTokenError, USER_GONE),
    }

    async def list(self, page: PageRequest) -> Sequence[Row[Any]]:
        """One page of rows, read for the response (not ORM entities)."""
        statement = keyset(self._select_rows(), Project, page)
        rows: Sequence[Row[Any]] = (await self.session.execute(statement)).all()
        return rows
