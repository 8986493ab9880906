from typing import Annotated

from pydantic import Field

from app.http.schemas import Email, Name, Password, RequestBody, Schema, Text
from app.identity.models import SLUG_PATTERN
from app.identity.schemas import TenantRead
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


class SignUpResponse(Schema):
    tenant: TenantRead
    owner: UserRead
