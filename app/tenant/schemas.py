import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field

from app.http.schemas import RequestBody, Schema, SecretText, Text
from app.identity.models import SLUG_PATTERN
from app.user.schemas import UserRead


class SignUpRequest(RequestBody):
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    slug: Annotated[
        Text,
        Field(
            pattern=SLUG_PATTERN,
            description="3-63 lowercase letters, digits and hyphens; no hyphen at either end.",
        ),
    ]
    email: Annotated[EmailStr, Field(max_length=320)]
    password: Annotated[
        SecretText,
        Field(
            min_length=12,
            max_length=1024,
            description="At least 12 characters (the server may require more).",
        ),
    ]
    full_name: Annotated[Text, Field(min_length=1, max_length=200)]


class TenantRead(Schema):
    id: uuid.UUID
    slug: str
    name: str
    is_active: bool
    created_at: datetime


class SignUpResponse(Schema):
    tenant: TenantRead
    owner: UserRead
