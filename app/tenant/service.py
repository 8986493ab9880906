"""Tenant signup: a tenant and its first owner, created together in the request's transaction."""

from dataclasses import dataclass

from app.core.security import PasswordHasher
from app.tenant.exceptions import TenantSlugTakenError, WeakPasswordError
from app.tenant.models import Tenant
from app.tenant.repository import TenantRepository
from app.user.models import Role, User
from app.user.repository import UserRepository


@dataclass(frozen=True, slots=True)
class SignUp:
    tenant: Tenant
    owner: User


class TenantService:
    def __init__(
        self,
        tenants: TenantRepository,
        users: UserRepository,
        hasher: PasswordHasher,
        *,
        password_min_length: int,
    ) -> None:
        self.tenants = tenants
        self.users = users
        self.hasher = hasher
        self.password_min_length = password_min_length

    async def sign_up(
        self, *, name: str, slug: str, email: str, password: str, full_name: str
    ) -> SignUp:
        if len(password) < self.password_min_length:
            raise WeakPasswordError(
                f"The password must be at least {self.password_min_length} characters long."
            )
        # A friendly early answer; the unique constraint still settles a race (see the repository).
        if await self.tenants.slug_exists(slug):
            raise TenantSlugTakenError(f"The slug {slug!r} is already taken.")
        tenant = await self.tenants.add(Tenant(name=name, slug=slug))
        owner = await self.users.add(
            User(
                tenant_id=tenant.id,
                email=email.lower(),
                password_hash=await self.hasher.hash(password),
                full_name=full_name,
                role=Role.OWNER,
            )
        )
        return SignUp(tenant=tenant, owner=owner)
