import uuid

from app.core.errors import AuthenticationError, KeepsWrites, PermissionDeniedError

BEARER = {"WWW-Authenticate": "Bearer"}
USER_GONE = "The token's user no longer exists or is inactive."


class InvalidCredentialsError(AuthenticationError):
    """One body for a wrong password, an unknown user and an inactive one."""

    code = "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("The email or password is incorrect.", headers=BEARER)


class InvalidTokenError(AuthenticationError):
    code = "invalid-token"
    title = "Invalid or expired token"

    def __init__(self, detail: str = "The token is invalid, expired or revoked.") -> None:
        super().__init__(detail, headers=BEARER)


class ReusedRefreshTokenError(InvalidTokenError, KeepsWrites):
    """A spent refresh token came back, and its family was revoked. The answer is 401, but the
    revocation is kept: `KeepsWrites` makes the request's transaction commit it first."""

    def __init__(self, family_id: uuid.UUID) -> None:
        super().__init__("This refresh token was already used; its session has been revoked.")
        self.family_id = family_id


class MissingTokenError(AuthenticationError):
    def __init__(self) -> None:
        super().__init__("This endpoint needs a bearer token.", headers=BEARER)


class TenantMismatchError(PermissionDeniedError):
    code = "tenant-mismatch"
    title = "Token not valid for this tenant"


class InsufficientRoleError(PermissionDeniedError):
    code = "insufficient-role"
    title = "Insufficient role"
