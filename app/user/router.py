from fastapi import APIRouter, Depends, status

from app.auth.dependencies import AdminDep, ViewerDep
from app.core.errors import raises
from app.core.security import WeakPasswordError
from app.http.routing import ProblemRoute
from app.idempotency.dependencies import idempotency
from app.identity.exceptions import EmailTakenError
from app.user.dependencies import UserForChangeDep, UserReaderDep, UserServiceDep
from app.user.exceptions import LastOwnerError, OwnerRequiredError
from app.user.schemas import UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"], route_class=ProblemRoute)


@router.get("/me")
async def read_me(me: ViewerDep) -> UserRead:
    """The calling user (as authentication loaded them: no query of its own)."""
    return UserRead.model_validate(me)


@router.get("")
async def list_users(_: AdminDep, service: UserReaderDep) -> list[UserRead]:
    """Every user of the tenant (admin or owner)."""
    return [UserRead.model_validate(user) for user in await service.list()]


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[Depends(idempotency)])
@raises(OwnerRequiredError, WeakPasswordError, EmailTakenError)
async def create_user(body: UserCreate, _: AdminDep, service: UserServiceDep) -> UserRead:
    """Add a member, viewer or (owners only) admin. Accepts `Idempotency-Key`."""
    return UserRead.model_validate(await service.create(body))


# `:uuid` keeps `/users/me` from matching `/users/{user_id}`: `PATCH /users/me` is a 405 (only
# GET is served there), not a 422 for the id "me". A malformed user id is therefore a 404.
@router.patch("/{user_id:uuid}")
@raises(OwnerRequiredError, LastOwnerError)
async def update_user(
    body: UserUpdate, _: AdminDep, user: UserForChangeDep, service: UserServiceDep
) -> UserRead:
    """Change a user's role or active flag (admins and owners: owners only)."""
    return UserRead.model_validate(await service.update(user, body))


@router.delete("/{user_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
@raises(OwnerRequiredError, LastOwnerError)
async def delete_user(_: AdminDep, user: UserForChangeDep, service: UserServiceDep) -> None:
    """Remove a user (admins and owners: owners only; never the last owner)."""
    await service.delete(user)
