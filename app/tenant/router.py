from fastapi import APIRouter, Depends, status

from app.http.deps import rate_limit
from app.http.problems import problem_responses
from app.tenant.dependencies import TenantServiceDep
from app.tenant.schemas import SignUpRequest, SignUpResponse

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(rate_limit("signup_per_address"))],
    responses=problem_responses(409, 413, 422, 429),
)
async def sign_up(body: SignUpRequest, service: TenantServiceDep) -> SignUpResponse:
    """Create a tenant and its owner account."""
    result = await service.sign_up(
        name=body.name,
        slug=body.slug,
        email=body.email,
        password=body.password.get_secret_value(),
        full_name=body.full_name,
    )
    return SignUpResponse.model_validate(result)
