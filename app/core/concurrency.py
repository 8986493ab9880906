"""Optimistic concurrency errors (see `app.core.models.Versioned`)."""

from app.core.errors import PreconditionFailedError


class StaleVersionError(PreconditionFailedError):
    code = "stale-version"
    title = "The resource has changed"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "The resource was modified since you read it; re-read it.")


def check_version(current: int, expected: int | None) -> None:
    """The client's If-Match version (when given) must be the stored one."""
    if expected is not None and expected != current:
        raise StaleVersionError
