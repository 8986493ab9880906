"""Domain errors. Services and repositories raise these; `app/http/problems.py` alone turns them
into HTTP responses (RFC 9457 problem+json), so nothing below the router knows about HTTP.

`raises` declares which of them reach a caller through a dependency or an endpoint, so the
OpenAPI document can list every route's problems from its dependency tree (app/http/routing.py).
"""

from collections.abc import Callable, Mapping
from typing import ClassVar, TypeVar


class AppError(Exception):
    """Base of every expected failure. `code` names the problem type; `status` its HTTP status.
    An empty `code` is the problem type `about:blank` (RFC 9457: nothing beyond the status)."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        self.detail = detail or self.title
        self.headers = dict(headers or {})
        super().__init__(self.detail)


class KeepsWrites:
    """Marks a domain error whose writes must outlive the failed request (a mixin, not an error
    of its own).

    Any other exception rolls the request's transaction back. After one of these,
    `app.core.db.transaction` commits what the request wrote, and only then lets the error
    propagate to its handler, so the client's error answer still means "stored". If that commit
    fails, its error replaces this one (a 500): the answer never claims a write that was lost.
    Mix it into an `AppError`: `class ReusedRefreshTokenError(InvalidTokenError, KeepsWrites)`.
    """


class InvalidInputError(AppError):
    status = 422
    code = "invalid-input"
    title = "Invalid input"


class AuthenticationError(AppError):
    status = 401
    code = "not-authenticated"
    title = "Not authenticated"


class PermissionDeniedError(AppError):
    status = 403
    code = "permission-denied"
    title = "Permission denied"


class NotFoundError(AppError):
    status = 404
    code = "not-found"
    title = "Not found"


class ConflictError(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailedError(AppError):
    status = 412
    code = "precondition-failed"
    title = "Precondition failed"


class ServiceUnavailableError(AppError):
    status = 503
    code = "service-unavailable"
    title = "Service unavailable"


class DatabaseUnavailableError(ServiceUnavailableError):
    """Not raised: the problem `app/http/problems.py` answers when PostgreSQL cannot answer in
    time (a lost connection, the statement timeout, no pooled connection free). Declared by the
    dependencies that own a transaction, so every route that touches the database documents it."""

    code = "database-unavailable"
    title = "Database unavailable"


CallableT = TypeVar("CallableT", bound=Callable[..., object])
_DECLARED = "__raises__"


def raises(*errors: type[AppError]) -> Callable[[CallableT], CallableT]:
    """Declare the domain errors that reach the caller through the decorated dependency or
    endpoint: those it raises and those of the services it calls. Written once, beside the
    code; each route documents the union over its dependency tree. The callable itself is
    returned unchanged (FastAPI reads its signature as before)."""

    def declare(function: CallableT) -> CallableT:
        setattr(function, _DECLARED, (*declared_errors(function), *errors))
        return function

    return declare


def declared_errors(function: object) -> tuple[type[AppError], ...]:
    """What `raises` declared on `function` (nothing, if it was not declared)."""
    declared: tuple[type[AppError], ...] = getattr(function, _DECLARED, ())
    return declared
