"""Projects: a tenant's containers of tasks. Reads are cached (cache-aside, per tenant);
writes invalidate the cache and publish events only after the transaction commits."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from app.core.cache import Cache, get_or_load
from app.core.concurrency import check_version
from app.core.events import DomainEvent, EventPublisher
from app.core.pagination import PageRequest
from app.identity.schemas import Principal
from app.project.exceptions import ProjectNotFoundError
from app.project.models import Project
from app.project.repository import ProjectRepository
from app.project.schemas import ProjectRead


def project_key(tenant_id: uuid.UUID, project_id: uuid.UUID) -> str:
    return f"project:{tenant_id}:{project_id}"


class ProjectService:
    def __init__(
        self,
        projects: ProjectRepository,
        cache: Cache,
        publisher: EventPublisher,
        *,
        actor: Principal,
        cache_ttl_seconds: int = 300,
    ) -> None:
        self.projects = projects
        self.cache = cache
        self.publisher = publisher
        self.actor = actor
        self.cache_ttl = cache_ttl_seconds

    async def list(self, page: PageRequest) -> Sequence[Row[Any]]:
        return await self.projects.list(page)

    async def read(self, project_id: uuid.UUID) -> ProjectRead:
        """One project as readers see it, from the cache when it is there (and it is on)."""

        async def load() -> ProjectRead:
            return ProjectRead.model_validate(await self.get(project_id))

        key = project_key(self.actor.tenant_id, project_id)
        return await get_or_load(self.cache, key, ProjectRead, load, ttl_seconds=self.cache_ttl)

    async def get(self, project_id: uuid.UUID) -> Project:
        """The row itself, from PostgreSQL (for writes)."""
        project = await self.projects.get(project_id)
        if project is None:
            raise ProjectNotFoundError
        return project

    async def create(self, *, name: str, description: str) -> Project:
        project = await self.projects.add(
            Project(name=name, description=description, created_by=self.actor.id)
        )
        self._announce("project.created", project)
        return project

    async def update(
        self,
        project_id: uuid.UUID,
        *,
        expected_version: frozenset[int] | None,
        changes: dict[str, object],
    ) -> Project:
        project = await self.get(project_id)
        check_version(project.version, expected_version)
        for field, value in changes.items():
            setattr(project, field, value)
        await self.projects.flush()
        self._forget(project)
        self._announce("project.updated", project)
        return project

    async def delete(
        self, project_id: uuid.UUID, *, expected_version: frozenset[int] | None
    ) -> None:
        project = await self.get(project_id)
        check_version(project.version, expected_version)
        await self.projects.delete(project)  # its tasks go with it (ON DELETE CASCADE)
        self._forget(project)
        self._announce("project.deleted", project)

    def _forget(self, project: Project) -> None:
        key = project_key(project.tenant_id, project.id)
        self.projects.after_commit(lambda: self.cache.delete(key))

    def _announce(self, type_: str, project: Project) -> None:
        event = DomainEvent(
            type=type_,
            tenant_id=project.tenant_id,
            data={"project_id": str(project.id), "name": project.name, "by": str(self.actor.id)},
        )
        self.projects.after_commit(lambda: self.publisher.publish(event))
