import uuid

from fastapi import APIRouter, status

from app.auth.dependencies import AdminDep, ViewerDep
from app.http.problems import problem_responses
from app.user.dependencies import UserServiceDep
from app.user.schemas import UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401, 403))


@router.get("/me")
async def read_me(me: ViewerDep) -> UserRead:
    """The calling user (as authentication loaded them: no query of its own)."""
    return UserRead.model_validate(me)


@router.get("")
async def list_users(_: AdminDep, service: UserServiceDep) -> list[UserRead]:
    """Every user of the tenant (admin or owner)."""
    return [UserRead.model_validate(user) for user in await service.list()]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 422))
async def create_user(body: UserCreate, _: AdminDep, service: UserServiceDep) -> UserRead:
    """Add a member, viewer or (owners only) admin."""
    user = await service.create(
        email=body.email,
        password=body.password.get_secret_value(),
        full_name=body.full_name,
        role=body.role,
    )
    return UserRead.model_validate(user)


@router.patch("/{user_id}", responses=problem_responses(404, 409, 422))
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, _: AdminDep, service: UserServiceDep
) -> UserRead:
    """Change a user's role or active flag (admins and owners: owners only)."""
    user = await service.update(user_id, role=body.role, is_active=body.is_active)
    return UserRead.model_validate(user)


@router.delete(
    "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 409)
)
async def delete_user(user_id: uuid.UUID, _: AdminDep, service: UserServiceDep) -> None:
    """Remove a user (admins and owners: owners only; never the last owner)."""
    await service.delete(user_id)
