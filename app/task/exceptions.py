from app.core.errors import InvalidInputError, NotFoundError


class TaskNotFoundError(NotFoundError):
    code = "task-not-found"
    title = "Task not found"


class InvalidAssigneeError(InvalidInputError):
    code = "invalid-assignee"
    title = "The assignee is not a user of this tenant"
