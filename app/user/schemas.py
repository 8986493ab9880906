import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field

from app.http.schemas import RequestBody, Schema, SecretText, Text
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
    email: Annotated[EmailStr, Field(max_length=320)]
    password: Annotated[SecretText, Field(min_length=12, max_length=1024)]
    full_name: Annotated[Text, Field(min_length=1, max_length=200)]
    role: Literal[Role.ADMIN, Role.MEMBER, Role.VIEWER] = Role.MEMBER


class UserUpdate(RequestBody):
    role: Role | None = None
    is_active: bool | None = None
