"""TenantService on its own, over in-memory tenants, users and tenant wall: signup's rules without
HTTP or a database."""

import pytest

from app.core.security import WeakPasswordError
from app.identity.exceptions import TenantSlugTakenError
from app.identity.models import Role, Tenant
from app.tenant.schemas import SignUpRequest
from tests.fixtures.fake_identity import signup_in_memory


def request(**fields: str) -> SignUpRequest:
    defaults = {"name": "Acme", "slug": "acme", "email": "a@b.example", "password": "x" * 12}
    return SignUpRequest.model_validate({**defaults, "full_name": "A", **fields})


class TestSignUp:
    async def test_owner_gets_the_owner_role_in_the_new_tenant(self) -> None:
        signup = signup_in_memory()

        result = await signup.service.sign_up(request(email="A@B.example"))

        assert result.owner.role is Role.OWNER
        assert result.owner.tenant_id == result.tenant.id
        assert result.owner.email == "a@b.example"

    async def test_password_policy_comes_from_the_caller(self) -> None:
        signup = signup_in_memory(password_min_length=20)

        with pytest.raises(WeakPasswordError):
            await signup.service.sign_up(request(password="x" * 19))
        assert signup.tenants.rows == {}

    async def test_taken_slug_raises_before_writing(self) -> None:
        signup = signup_in_memory()
        await signup.tenants.add(Tenant(name="Acme", slug="acme"))

        with pytest.raises(TenantSlugTakenError):
            await signup.service.sign_up(request())
        assert signup.users.rows == {}
