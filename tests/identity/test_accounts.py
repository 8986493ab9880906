"""`new_user` (app/identity/accounts.py), the one way signup and user management make a user:
the password rule first, then the hash; the email kept lower-case."""

import pytest

from app.core.security import WeakPasswordError
from app.identity.accounts import new_user
from app.identity.models import Role


class CountingHasher:
    def __init__(self) -> None:
        self.hashed: list[str] = []

    async def hash(self, password: str) -> str:
        self.hashed.append(password)
        return f"hashed:{password}"

    async def verify_and_update(
        self, password: str, password_hash: str | None
    ) -> tuple[bool, None]:
        raise AssertionError("making a user verifies nothing")


async def test_a_user_under_the_rule_is_built_with_the_hash_and_a_lower_case_email():
    hasher = CountingHasher()

    user = await new_user(
        hasher,
        password_min_length=12,
        email="New.Person@Example.COM",
        password="x" * 12,
        full_name="New Person",
        role=Role.VIEWER,
    )

    assert (user.email, user.password_hash, user.full_name, user.role) == (
        "new.person@example.com",
        "hashed:" + "x" * 12,
        "New Person",
        Role.VIEWER,
    )
    assert user.id is None  # not added: the caller adds it in its tenant


async def test_a_refused_password_is_never_hashed():
    hasher = CountingHasher()

    with pytest.raises(WeakPasswordError, match="at least 20 characters"):
        await new_user(
            hasher,
            password_min_length=20,
            email="a@b.example",
            password="x" * 19,
            full_name="A",
            role=Role.MEMBER,
        )

    assert hasher.hashed == []
