"""A new user, under the password rule: the one way signup (its owner) and user management
(`POST /users`) make a user, so neither can store a password the rule refuses."""

from dataclasses import dataclass, field

from app.core.security import PasswordHasher, require_long_uncommon_password
from app.identity.models import Role, User


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user to be made, whose password has passed the rule (made by `under_rule`). Checking
    and hashing are two steps so that a caller refuses a weak password before it looks anything
    up or writes anything, and spends the hashing (tens of milliseconds) only once its own
    checks have passed."""

    email: str
    password: str = field(repr=False)
    full_name: str
    role: Role

    @classmethod
    def under_rule(
        cls, password_min_length: int, *, email: str, password: str, full_name: str, role: Role
    ) -> "NewUser":
        require_long_uncommon_password(password, password_min_length)
        return cls(email=email.lower(), password=password, full_name=full_name, role=role)

    async def build(self, hasher: PasswordHasher) -> User:
        """The row, its password hashed, not yet added: the caller adds it in its tenant."""
        return User(
            email=self.email,
            password_hash=await hasher.hash(self.password),
            full_name=self.full_name,
            role=self.role,
        )
