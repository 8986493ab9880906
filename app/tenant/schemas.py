import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.http.schemas import Email, Name, Password, RequestBody, Schema, Text
from app.identity.models import SLUG_PATTERN
from app.user.schemas import UserRead


class SignUpRequest(RequestBody):
    name: Name
    slug: Annotated[
        Text,
        Field(
            pattern=SLUG_PATTERN,
            description="3-63 lowercase letters, digits and hyphens; no hyphen at either end.",
        ),
    ]
    email: Email
    password: Password
    full_name: Name


class TenantRead(Schema):
    id: uuid.UUID
    slug: str
    name: str
    is_active: bool
    created_at: datetime


class SignUpResponse(Schema):
    tenant: TenantRead
    owner: UserRead
