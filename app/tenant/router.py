from fastapi import APIRouter, Depends, status

from app.core.errors import raises
from app.core.security import WeakPasswordError
from app.http.deps import rate_limit
from app.http.routing import ProblemRoute
from app.identity.exceptions import TenantSlugTakenError
from app.tenant.dependencies import TenantServiceDep
from app.tenant.schemas import SignUpRequest, SignUpResponse

router = APIRouter(prefix="/tenants", tags=["tenants"], route_class=ProblemRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(rate_limit("signup_per_address"))],
)
@raises(TenantSlugTakenError, WeakPasswordError)
async def sign_up(body: SignUpRequest, service: TenantServiceDep) -> SignUpResponse:
    """Create a tenant and its owner account."""
    return SignUpResponse.model_validate(await service.sign_up(body))
