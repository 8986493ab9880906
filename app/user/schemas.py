import uuid
from datetime import datetime

from app.api.schemas import Schema
from app.user.models import Role


class UserRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime
