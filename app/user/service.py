"""Managing a tenant's users. Admins manage members and viewers; only owners manage admins and
owners; the last active owner can be neither demoted, deactivated nor removed. Adding and
removing a user record `user.created` and `user.deleted` in the write's own transaction (the
recorder, in the app the outbox); their data is the user's id and role and the acting user's id
(`by`), never the email or any other personal data, which would otherwise be copied into every
consumer of the stream."""

import uuid
from collections.abc import Sequence

from app.core.cache import Cache
from app.core.events import DomainEvent, EventRecorder
from app.core.security import PasswordHasher
from app.identity.cache import user_subject
from app.identity.models import Role, User
from app.identity.new_user import NewUser
from app.identity.repository import UserRepository
from app.identity.schemas import Principal
from app.user.exceptions import LastOwnerError, OwnerRequiredError
from app.user.schemas import UserCreate, UserUpdate

PRIVILEGED = frozenset({Role.ADMIN, Role.OWNER})


class UserService:
    def __init__(
        self,
        users: UserRepository,
        hasher: PasswordHasher,
        cache: Cache,
        events: EventRecorder,
        *,
        actor: Principal,
        password_min_length: int,
    ) -> None:
        self.users = users
        self.hasher = hasher
        self.cache = cache
        self.events = events
        self.actor = actor
        self.password_min_length = password_min_length

    async def list(self) -> Sequence[User]:
        return await self.users.list_all()

    async def load_for_change(self, user_id: uuid.UUID) -> User:
        """The row itself, in this request's transaction; 404 if no such user here."""
        return await self.users.get_or_raise(user_id)

    async def create(self, fields: UserCreate) -> User:
        self._require_owner_for(fields.role)
        new = NewUser.under_rule(
            self.password_min_length,
            email=fields.email,
            password=fields.password.get_secret_value(),
            full_name=fields.full_name,
            role=fields.role,
        )
        user = await self.users.add(await new.build(self.hasher))
        await self._announce("user.created", user)
        return user

    async def update(self, user: User, changes: UserUpdate) -> User:
        """`user` as `load_for_change` gave it. A field left out (or null) stays as it is."""
        role, is_active = changes.role, changes.is_active
        if role is not None and role != user.role:
            self._require_owner_for(user.role, role)
        if is_active is not None and is_active != user.is_active:
            self._require_owner_for(user.role)
        leaves_owners = (
            user.role is Role.OWNER
            and user.is_active
            and ((role is not None and role is not Role.OWNER) or is_active is False)
        )
        if leaves_owners:
            await self._keep_an_owner(user)
        user.role = role if role is not None else user.role
        user.is_active = is_active if is_active is not None else user.is_active
        await self.users.flush()
        self._forget(user)
        return user

    async def delete(self, user: User) -> None:
        self._require_owner_for(user.role)
        if user.role is Role.OWNER and user.is_active:
            await self._keep_an_owner(user)
        await self.users.delete(user)
        self._forget(user)
        await self._announce("user.deleted", user)

    def _require_owner_for(self, *roles: Role) -> None:
        if PRIVILEGED.intersection(roles) and self.actor.role is not Role.OWNER:
            raise OwnerRequiredError("Only an owner may add, change or remove admins and owners.")

    async def _keep_an_owner(self, leaving: User) -> None:
        owners = await self.users.lock_active_owners()
        if [owner for owner in owners if owner != leaving.id] == []:
            raise LastOwnerError("The tenant's last active owner cannot be demoted or removed.")

    async def _announce(self, type_: str, user: User) -> None:
        """The user's id and role, and who acted (`by`, as every domain's events say): no
        email, no name (personal data stays out of the stream, whose entries consumers copy and
        keep)."""
        event = DomainEvent(
            type=type_,
            tenant_id=user.tenant_id,
            data={"user_id": str(user.id), "role": user.role.value, "by": str(self.actor.id)},
        )
        await self.events.record(event)

    def _forget(self, user: User) -> None:
        """Once the change is committed, the cached principal is retired: its generation moves
        on, so an entry filled from a read that raced with this change is never served."""
        subject = user_subject(user.tenant_id, user.id)
        self.users.after_commit(lambda: self.cache.invalidate(subject))
