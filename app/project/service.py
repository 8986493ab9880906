"""Projects: a tenant's containers of tasks.

Two ways to fetch one project, named for what they give: `read` the read model (`ProjectRead`,
cache-aside per tenant: `GET /projects/{id}` and every task route are served from Redis), and
`load_for_change` the row itself, from PostgreSQL in the request's transaction, for `update` and
`delete`, which take that row. Writes record their events in their own transaction (the
recorder, in the app the outbox) and invalidate the cache only after the transaction commits."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from app.core.cache import Cache, get_or_load
from app.core.concurrency import check_version
from app.core.events import DomainEvent, EventRecorder
from app.core.pagination import PageRequest
from app.identity.schemas import Principal
from app.project.models import Project
from app.project.repository import ProjectRepository
from app.project.schemas import ProjectCreate, ProjectRead, ProjectUpdate


def project_key(tenant_id: uuid.UUID, project_id: uuid.UUID) -> str:
    return f"project:{tenant_id}:{project_id}"


class ProjectService:
    def __init__(
        self,
        projects: ProjectRepository,
        cache: Cache,
        events: EventRecorder,
        *,
        actor: Principal,
        cache_ttl_seconds: int = 300,
    ) -> None:
        self.projects = projects
        self.cache = cache
        self.events = events
        self.actor = actor
        self.cache_ttl = cache_ttl_seconds

    async def list(self, page: PageRequest) -> Sequence[Row[Any]]:
        return await self.projects.list(page)

    async def read(self, project_id: uuid.UUID) -> ProjectRead:
        """The read model, from the cache when it is there (and it is on); 404 if no such
        project. Never a row: nothing read this way can be changed by mistake."""

        async def load() -> ProjectRead:
            return ProjectRead.model_validate(await self.projects.get_or_raise(project_id))

        key = project_key(self.actor.tenant_id, project_id)
        return await get_or_load(self.cache, key, ProjectRead, load, ttl_seconds=self.cache_ttl)

    async def load_for_change(self, project_id: uuid.UUID) -> Project:
        """The row itself, from PostgreSQL in this request's transaction (never the cache: its
        version is the one `If-Match` is checked against); 404 if no such project."""
        return await self.projects.get_or_raise(project_id)

    async def create(self, fields: ProjectCreate) -> Project:
        project = await self.projects.add(
            Project(name=fields.name, description=fields.description, created_by=self.actor.id)
        )
        await self._announce("project.created", project)
        return project

    async def update(
        self,
        project: Project,
        changes: ProjectUpdate,
        *,
        expected_version: frozenset[int] | None,
    ) -> Project:
        """`project` as `load_for_change` gave it; only the fields `changes` carries change."""
        check_version(project.version, expected_version)
        for field, value in changes.model_dump(exclude_unset=True).items():
            setattr(project, field, value)
        await self.projects.flush()
        self._forget(project)
        await self._announce("project.updated", project)
        return project

    async def delete(self, project: Project, *, expected_version: frozenset[int] | None) -> None:
        check_version(project.version, expected_version)
        await self.projects.delete(project)  # its tasks go with it (ON DELETE CASCADE)
        self._forget(project)
        await self._announce("project.deleted", project)

    def _forget(self, project: Project) -> None:
        key = project_key(project.tenant_id, project.id)
        self.projects.after_commit(lambda: self.cache.delete(key))

    async def _announce(self, type_: str, project: Project) -> None:
        event = DomainEvent(
            type=type_,
            tenant_id=project.tenant_id,
            data={"project_id": str(project.id), "name": project.name, "by": str(self.actor.id)},
        )
        await self.events.record(event)
