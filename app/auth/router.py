from fastapi import APIRouter, status

from app.auth.dependencies import (
    AuthServiceDep,
    LoginFormDep,
    NamedTenantDep,
    TokenClaimsDep,
    login_rate_limits,
)
from app.auth.exceptions import (
    InvalidCredentialsError,
    InvalidTokenError,
    ReusedRefreshTokenError,
)
from app.auth.schemas import RefreshRequest, TokenPair
from app.core.errors import raises
from app.http.routing import ProblemRoute
from app.identity.exceptions import TenantRequiredError

router = APIRouter(prefix="/auth", tags=["auth"], route_class=ProblemRoute)


@router.post("/token", dependencies=login_rate_limits)
@raises(TenantRequiredError, InvalidCredentialsError)
async def issue_token(
    form: LoginFormDep,
    tenant: NamedTenantDep,
    service: AuthServiceDep,
) -> TokenPair:
    """Log in with email (`username`) and password; the tenant comes from `X-Tenant`."""
    if tenant is None:
        raise TenantRequiredError("Name the tenant in the X-Tenant header.")
    return await service.login(tenant=tenant, email=form.username, password=form.password)


@router.post("/refresh")
@raises(InvalidTokenError, ReusedRefreshTokenError)
async def refresh(body: RefreshRequest, service: AuthServiceDep) -> TokenPair:
    """Trade a refresh token for a new pair; the old one is spent. Reusing a spent one revokes
    its whole session (every token of its family)."""
    return await service.refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(claims: TokenClaimsDep, service: AuthServiceDep) -> None:
    """End this session: its refresh tokens are revoked and its access tokens denied. Needs only
    a valid, unrevoked token (no role, no active tenant), so a session can always be ended."""
    await service.logout(claims)
