"""`NewUser` (app/identity/accounts.py), the one way signup and user management make a user:
the password rule when it is made, the hash when it is built; the email kept lower-case."""

import pytest

from app.core.security import WeakPasswordError
from app.identity.accounts import NewUser
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

    new = NewUser.under_rule(
        12, email="New.Person@Example.COM", password="x" * 12, full_name="New", role=Role.VIEWER
    )
    assert hasher.hashed == []  # not until it is built
    user = await new.build(hasher)

    assert (user.email, user.password_hash, user.full_name, user.role) == (
        "new.person@example.com",
        "hashed:" + "x" * 12,
        "New",
        Role.VIEWER,
    )
    assert user.id is None  # not added: the caller adds it in its tenant
    assert "x" * 12 not in repr(new)


def test_a_password_shorter_than_the_rule_is_refused():
    with pytest.raises(WeakPasswordError, match="at least 20 characters"):
        NewUser.under_rule(
            20, email="a@b.example", password="x" * 19, full_name="A", role=Role.MEMBER
        )
