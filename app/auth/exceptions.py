from app.core.errors import AuthenticationError, PermissionDeniedError

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


class MissingTokenError(AuthenticationError):
    def __init__(self) -> None:
        super().__init__("This endpoint needs a bearer token.", headers=BEARER)


class TenantMismatchError(PermissionDeniedError):
    code = "tenant-mismatch"
    title = "Token not valid for this tenant"


class InsufficientRoleError(PermissionDeniedError):
    code = "insufficient-role"
    title = "Insufficient role"
