from app.core.errors import ConflictError, InvalidInputError


class TenantSlugTakenError(ConflictError):
    code = "tenant-slug-taken"
    title = "Tenant slug already taken"


class WeakPasswordError(InvalidInputError):
    code = "weak-password"
    title = "Password too weak"
