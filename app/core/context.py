"""Per-request context for logs. Set by middleware and dependencies, read by the log processors.

Context variables, not loggers passed around: whatever runs inside the request (services,
repositories, the session's cleanup) logs with these fields without knowing where they came from.
"""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant_id_var: ContextVar[str | None] = ContextVar("tenant_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)
