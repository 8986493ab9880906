import uuid
from datetime import datetime
from typing import Literal

from app.http.schemas import Boolean, Email, Name, Omittable, Password, RequestBody, Schema
from app.identity.models import Role


class UserRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime


class UserCreate(RequestBody):
    email: Email
    password: Password
    full_name: Name
    role: Literal[Role.ADMIN, Role.MEMBER, Role.VIEWER] = Role.MEMBER


class UserUpdate(RequestBody):
    """Only the fields sent change; `null` is refused."""

    role: Omittable[Role] = None
    is_active: Omittable[Boolean] = None
