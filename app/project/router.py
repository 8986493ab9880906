from fastapi import APIRouter, Depends, Response, status

from app.auth.dependencies import MemberDep, ViewerDep
from app.core.concurrency import StaleVersionError
from app.core.errors import raises
from app.http.etag import ExpectedVersionDep, etag
from app.http.openapi import links_to
from app.http.pagination import Page, PaginationDep
from app.http.routing import ProblemRoute
from app.idempotency.dependencies import idempotency
from app.project.dependencies import (
    ProjectDep,
    ProjectForChangeDep,
    ProjectReaderDep,
    ProjectServiceDep,
)
from app.project.exceptions import ProjectNameTakenError
from app.project.schemas import ProjectCreate, ProjectRead, ProjectUpdate

router = APIRouter(prefix="/projects", tags=["projects"], route_class=ProblemRoute)


@router.get("")
async def list_projects(
    _: ViewerDep, pagination: PaginationDep, service: ProjectReaderDep
) -> Page[ProjectRead]:
    """The tenant's projects, oldest first, a page at a time."""
    return pagination.page(await service.list(pagination.request), ProjectRead)


# What a client can do next with the created project (OpenAPI links, which generated clients and
# schemathesis' stateful phase follow).
_THE_PROJECT = {"project_id": "$response.body#/id"}
_NEXT = links_to(
    read=("projects-read_project", _THE_PROJECT),
    update=("projects-update_project", _THE_PROJECT),
    delete=("projects-delete_project", _THE_PROJECT),
    list_tasks=("tasks-list_tasks", _THE_PROJECT),
    create_task=("tasks-create_task", _THE_PROJECT),
    create_tasks_in_bulk=("tasks-create_tasks_in_bulk", _THE_PROJECT),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(idempotency)],
    responses={201: _NEXT},
)
@raises(ProjectNameTakenError)
async def create_project(
    _: MemberDep, body: ProjectCreate, service: ProjectServiceDep, response: Response
) -> ProjectRead:
    """Create a project (members and above). Accepts `Idempotency-Key`."""
    project = await service.create(body)
    response.headers["ETag"] = etag(project.version)
    return ProjectRead.model_validate(project)


@router.get("/{project_id}")
async def read_project(_: ViewerDep, project: ProjectDep, response: Response) -> ProjectRead:
    """One project, with its version as `ETag`."""
    response.headers["ETag"] = etag(project.version)
    return project


@router.patch("/{project_id}")
@raises(ProjectNameTakenError, StaleVersionError)
async def update_project(
    _: MemberDep,
    body: ProjectUpdate,
    project: ProjectForChangeDep,
    expected: ExpectedVersionDep,
    service: ProjectServiceDep,
    response: Response,
) -> ProjectRead:
    """Change a project. Send `If-Match` with the ETag you read to refuse lost updates (412)."""
    updated = await service.update(project, body, expected_version=expected)
    response.headers["ETag"] = etag(updated.version)
    return ProjectRead.model_validate(updated)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
@raises(StaleVersionError)
async def delete_project(
    _: MemberDep,
    project: ProjectForChangeDep,
    expected: ExpectedVersionDep,
    service: ProjectServiceDep,
) -> None:
    """Delete a project and all its tasks (`If-Match` honoured)."""
    await service.delete(project, expected_version=expected)
