import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from app.http.schemas import RequestBody, Schema, Text
from app.identity.models import Role


class Principal(Schema):
    """Who is calling: loaded from PostgreSQL (the token's role may be stale), cached in Redis.
    It carries every field of `UserRead`, so `GET /users/me` needs no query of its own."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime


class TokenPair(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(RequestBody):
    refresh_token: Annotated[Text, Field(min_length=20, max_length=200)]
