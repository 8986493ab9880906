import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from app.auth.dependencies import MemberDep, ViewerDep
from app.core.concurrency import StaleVersionError
from app.core.errors import raises
from app.flag.dependencies import require_feature
from app.http.etag import ExpectedVersionDep, etag
from app.http.pagination import Page, PaginationDep
from app.http.routing import ProblemRoute
from app.idempotency.dependencies import idempotency
from app.project.dependencies import ProjectDep
from app.task.dependencies import TaskDep, TaskForChangeDep, TaskReaderDep, TaskServiceDep
from app.task.exceptions import InvalidAssigneeError
from app.task.models import TaskStatus
from app.task.schemas import BulkTaskCreate, TaskCreate, TaskRead, TaskUpdate

router = APIRouter(prefix="/projects/{project_id}/tasks", tags=["tasks"], route_class=ProblemRoute)


@router.get("")
async def list_tasks(
    _: ViewerDep,
    project: ProjectDep,
    pagination: PaginationDep,
    service: TaskReaderDep,
    status_: Annotated[TaskStatus | None, Query(alias="status")] = None,
    assignee_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[TaskRead]:
    """A project's tasks, oldest first, optionally only one status or assignee."""
    rows = await service.list(
        project.id, pagination.request, status=status_, assignee_id=assignee_id
    )
    return pagination.page(rows, TaskRead)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Depends(idempotency)])
@raises(InvalidAssigneeError)
async def create_task(
    _: MemberDep,
    body: TaskCreate,
    project: ProjectDep,
    service: TaskServiceDep,
    response: Response,
) -> TaskRead:
    """Add a task to the project (members and above). Accepts `Idempotency-Key`."""
    task = await service.create(project.id, body)
    response.headers["ETag"] = etag(task.version)
    return TaskRead.model_validate(task)


# ":bulk" is a custom method on the collection (AIP-136 style), so it cannot clash with an id.
@router.post(
    ":bulk",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_feature("bulk_tasks")), Depends(idempotency)],
)
@raises(InvalidAssigneeError)
async def create_tasks_in_bulk(
    _: MemberDep, body: BulkTaskCreate, project: ProjectDep, service: TaskServiceDep
) -> list[TaskRead]:
    """Add up to 100 tasks in one transaction: all or none. Behind the `bulk_tasks` flag."""
    tasks = await service.create_many(project.id, body.tasks)
    return [TaskRead.model_validate(task) for task in tasks]


@router.get("/{task_id}")
async def read_task(_: ViewerDep, task: TaskDep, response: Response) -> TaskRead:
    """One task, with its version as `ETag`."""
    response.headers["ETag"] = etag(task.version)
    return task


@router.patch("/{task_id}")
@raises(InvalidAssigneeError, StaleVersionError)
async def update_task(
    _: MemberDep,
    body: TaskUpdate,
    task: TaskForChangeDep,
    expected: ExpectedVersionDep,
    service: TaskServiceDep,
    response: Response,
) -> TaskRead:
    """Change a task. Send `If-Match` with the ETag you read to refuse lost updates (412)."""
    updated = await service.update(task, body, expected_version=expected)
    response.headers["ETag"] = etag(updated.version)
    return TaskRead.model_validate(updated)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
@raises(StaleVersionError)
async def delete_task(
    _: MemberDep, task: TaskForChangeDep, expected: ExpectedVersionDep, service: TaskServiceDep
) -> None:
    """Delete a task (`If-Match` honoured)."""
    await service.delete(task, expected_version=expected)
