"""Per-request context for logs. Set by middleware and dependencies, read by the log filter."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
