from app.core.errors import ConflictError, NotFoundError


class ProjectNotFoundError(NotFoundError):
    code = "project-not-found"
    title = "Project not found"


class ProjectNameTakenError(ConflictError):
    code = "project-name-taken"
    title = "A project with this name exists"
