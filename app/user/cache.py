"""How a user appears in the cache: the entry that authentication reads (the principal) and the
subject whose generation `UserService` bumps when the user's role, state or existence changes."""

import uuid


def principal_key(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"principal:{tenant_id}:{user_id}"


def user_subject(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"user:{tenant_id}:{user_id}"
