"""A new user, under the password rule: the one way signup (its owner) and user management
(`POST /users`) make a user, so neither can store a password the rule refuses."""

from app.core.security import PasswordHasher, require_password_length
from app.identity.models import Role, User


async def new_user(
    hasher: PasswordHasher,
    *,
    password_min_length: int,
    email: str,
    password: str,
    full_name: str,
    role: Role,
) -> User:
    """The user, not yet added: the caller adds it in the tenant it belongs to. The rule is
    checked before the password is hashed (a refused password costs no hashing)."""
    require_password_length(password, password_min_length)
    return User(
        email=email.lower(),
        password_hash=await hasher.hash(password),
        full_name=full_name,
        role=role,
    )
