"""Optimistic concurrency errors (see `app.core.models.Versioned`)."""

from app.core.errors import PreconditionFailedError


class StaleVersionError(PreconditionFailedError):
    code = "stale-version"
    title = "The resource has changed"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "The resource was modified since you read it; re-read it.")


def check_version(current: int, expected: frozenset[int] | None) -> None:
    """The stored version must be one the client's If-Match names (when it names any)."""
    if expected is not None and current not in expected:
        raise StaleVersionError
