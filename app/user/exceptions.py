from app.core.errors import ConflictError, PermissionDeniedError


class OwnerRequiredError(PermissionDeniedError):
    code = "owner-required"
    title = "Only an owner may do this"


class LastOwnerError(ConflictError):
    code = "last-owner"
    title = "The last owner must stay"
