"""`NewUser` (app/identity/new_user.py), the one way signup and user management make a user:
the password rule when it is made, the hash when it is built; the email kept lower-case."""

import pytest

from app.core.security import WeakPasswordError
from app.identity.models import Role
from app.identity.new_user import NewUser
from tests.fixtures.fake_identity import PlainHasher


async def test_a_user_under_the_rule_is_built_with_the_hash_and_a_lower_case_email() -> None:
    new = NewUser.under_rule(
        12, email="New.Person@Example.COM", password="x" * 12, full_name="New", role=Role.VIEWER
    )
    user = await new.build(PlainHasher())

    assert (user.email, user.password_hash, user.full_name, user.role) == (
        "new.person@example.com",
        "hashed:" + "x" * 12,
        "New",
        Role.VIEWER,
    )
    assert user.id is None  # not added: the caller adds it in its tenant
    assert "x" * 12 not in repr(new)


def test_a_password_shorter_than_the_rule_is_refused() -> None:
    with pytest.raises(WeakPasswordError, match="at least 20 characters"):
        NewUser.under_rule(
            20, email="a@b.example", password="x" * 19, full_name="A", role=Role.MEMBER
        )
