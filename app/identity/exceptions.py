"""The errors of looking up who exists: unknown tenants and users, taken slugs and emails."""

from app.core.errors import ConflictError, InvalidInputError, NotFoundError


class TenantSlugTakenError(ConflictError):
    code = "tenant-slug-taken"
    title = "Tenant slug already taken"


class TenantNotFoundError(NotFoundError):
    code = "tenant-not-found"
    title = "Unknown or inactive tenant"


class TenantRequiredError(InvalidInputError):
    code = "tenant-required"
    title = "Tenant not named"


class UserNotFoundError(NotFoundError):
    code = "user-not-found"
    title = "User not found"


class EmailTakenError(ConflictError):
    code = "email-taken"
    title = "Email already registered in this tenant"
