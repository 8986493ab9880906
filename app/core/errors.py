"""Domain errors. Services and repositories raise these; `app/http/problems.py` alone turns them
into HTTP responses (RFC 9457 problem+json), so nothing below the router knows about HTTP."""

from collections.abc import Mapping
from typing import ClassVar


class AppError(Exception):
    """Base of every expected failure. `code` names the problem type; `status` its HTTP status."""

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
