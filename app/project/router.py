from fastapi import APIRouter, Depends, Response, status

from app.auth.dependencies import MemberDep, ViewerDep
from app.http.etag import ExpectedVersionDep, etag
from app.http.pagination import Page, PaginationDep
from app.http.problems import problem_responses
from app.idempotency.dependencies import idempotency
from app.project.dependencies import ProjectDep, ProjectServiceDep
from app.project.schemas import ProjectCreate, ProjectRead, ProjectUpdate

router = APIRouter(prefix="/projects", tags=["projects"], responses=problem_responses(401, 403))


@router.get("", responses=problem_responses(422))
async def list_projects(
    _: ViewerDep, pagination: PaginationDep, service: ProjectServiceDep
) -> Page[ProjectRead]:
    """The tenant's projects, oldest first, a page at a time."""
    return pagination.page(await service.list(pagination.request), ProjectRead)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(idempotency)],
    responses=problem_responses(409, 422),
)
async def create_project(
    _: MemberDep, body: ProjectCreate, service: ProjectServiceDep, response: Response
) -> ProjectRead:
    """Create a project (members and above). Accepts `Idempotency-Key`."""
    project = await service.create(name=body.name, description=body.description)
    response.headers["ETag"] = etag(project.version)
    return ProjectRead.model_validate(project)


@router.get("/{project_id}", responses=problem_responses(404))
async def read_project(_: ViewerDep, project: ProjectDep, response: Response) -> ProjectRead:
    """One project, with its version as `ETag`."""
    response.headers["ETag"] = etag(project.version)
    return project


@router.patch("/{project_id}", responses=problem_responses(404, 409, 412, 422))
async def update_project(
    _: MemberDep,
    body: ProjectUpdate,
    project: ProjectDep,
    expected: ExpectedVersionDep,
    service: ProjectServiceDep,
    response: Response,
) -> ProjectRead:
    """Change a project. Send `If-Match` with the ETag you read to refuse lost updates (412)."""
    updated = await service.update(
        project.id, expected_version=expected, changes=body.model_dump(exclude_unset=True)
    )
    response.headers["ETag"] = etag(updated.version)
    return ProjectRead.model_validate(updated)


@router.delete(
    "/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 412)
)
async def delete_project(
    _: MemberDep, project: ProjectDep, expected: ExpectedVersionDep, service: ProjectServiceDep
) -> None:
    """Delete a project and all its tasks (`If-Match` honoured)."""
    await service.delete(project.id, expected_version=expected)
