"""Tenants: signup (a tenant and its first owner, in the request's transaction). The cached
directory that resolves a tenant on every request is `app.identity.cache.TenantDirectory`."""

from dataclasses import dataclass

from app.core.security import PasswordHasher
from app.identity.exceptions import TenantSlugTakenError
from app.identity.models import Role, Tenant, User
from app.identity.new_user import NewUser
from app.identity.repository import TenantRepository
from app.identity.wall import TenantWall
from app.tenant.schemas import SignUpRequest


@dataclass(frozen=True, slots=True)
class SignUp:
    tenant: Tenant
    owner: User


class TenantService:
    def __init__(
        self,
        tenants: TenantRepository,
        wall: TenantWall,
        hasher: PasswordHasher,
        *,
        password_min_length: int,
    ) -> None:
        self.tenants = tenants
        self.wall = wall
        self.hasher = hasher
        self.password_min_length = password_min_length

    async def sign_up(self, request: SignUpRequest) -> SignUp:
        owner = NewUser.under_rule(
            self.password_min_length,
            email=request.email,
            password=request.password.get_secret_value(),
            full_name=request.full_name,
            role=Role.OWNER,
        )
        # A friendly early answer; the unique constraint still settles a race (see the repository).
        if await self.tenants.slug_exists(request.slug):
            raise TenantSlugTakenError(f"The slug {request.slug!r} is already taken.")
        tenant = await self.tenants.add(Tenant(name=request.name, slug=request.slug))
        # The owner row is tenant-owned: the transaction now acts for the new tenant.
        inside = await self.wall.enter(tenant.id)
        return SignUp(tenant=tenant, owner=await inside.users.add(await owner.build(self.hasher)))
