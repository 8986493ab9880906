"""Who exists, as the cache and the request context hold it."""

import uuid
from datetime import datetime

from app.http.schemas import Schema
from app.identity.models import Role


class TenantRead(Schema):
    id: uuid.UUID
    slug: str
    name: str
    is_active: bool
    created_at: datetime


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
