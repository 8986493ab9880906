from app.core.errors import ConflictError, NotFoundError, PermissionDeniedError


class UserNotFoundError(NotFoundError):
    code = "user-not-found"
    title = "User not found"


class OwnerRequiredError(PermissionDeniedError):
    code = "owner-required"
    title = "Only an owner may do this"


class LastOwnerError(ConflictError):
    code = "last-owner"
    title = "The last owner must stay"
