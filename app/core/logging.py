"""Structured logging with structlog, configured once per process by `configure_logging`.

One chain of structlog processors renders every line, so all lines have one shape: a JSON object
per line, or readable key=value text with APP_ENV=development. The standard library's records
(uvicorn, SQLAlchemy, `logging.getLogger("app.errors")`, warnings) reach it through a
`ProcessorFormatter` on the root logger's handler; structlog's events run the same processors and
are written to that handler's stream directly. Every line carries `request_id`, `tenant_id` and
`user_id` from the context variables in `app/core/context.py`, and `trace_id` and `span_id`
when tracing is on (app/core/tracing.py); values under secret-looking keys are masked on the way
out (`redact`). See docs/operations.md.
"""

import functools
import logging
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from app.core.config import Settings
from app.core.context import request_id_var, tenant_id_var, user_id_var
from app.core.tracing import log_ids

CONTEXT_KEYS = ("request_id", "tenant_id", "user_id")
REDACTED = "[REDACTED]"
# A key is secret when, lower-cased with "-" read as "_", it contains one of these: `password`,
# `access_token`, `X-Api-Key`, `Authorization`, `set-cookie`, `client_secret`, ...
SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "credential",
    "private_key",
)
# Free text (the message, a traceback) can carry secrets too: `password=...`, `"token": "..."`,
# `Bearer <jwt>`, a bare JWT. Keys are caught by name; these catch the common shapes in text.
_SECRET_IN_TEXT = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+"), rf"\1 {REDACTED}"),
    (
        re.compile(
            r"(?i)([\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization|cookie)"
            r"[\w-]*[\"']?\s*[:=]\s*)([\"']?)[^\s\"',;&)}\]]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), REDACTED),
)
_TEXT_KEYS = ("event", "exception")
_SCALARS = frozenset({str, int, float, bool, type(None)})
# The key order of a JSON line: these first, the rest as they came.
_LEADING_KEYS = ("timestamp", "level", "logger", "event", *CONTEXT_KEYS, "trace_id", "span_id")
_HANDLER_NAME = "dependable"
# Their records go through our handler on the root logger instead of their own handlers.
_ADOPTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy")


@functools.lru_cache(maxsize=4096)  # the same few keys, on every line: decide each once
def _is_sensitive_name(key: str) -> bool:
    normalized = key.lower().replace("-", "_")
    return any(part in normalized for part in SENSITIVE_KEY_PARTS)


def is_sensitive_key(key: object) -> bool:
    return isinstance(key, str) and _is_sensitive_name(key)


def scrub_text(text: str) -> str:
    if len(text) <= _CACHED_TEXT_LENGTH:  # messages repeat ("request"): scrub each once
        return _scrub_short_text(text)
    return _scrub(text)


def _scrub(text: str) -> str:
    for pattern, replacement in _SECRET_IN_TEXT:
        text = pattern.sub(replacement, text)
    return text


_CACHED_TEXT_LENGTH = 200
_scrub_short_text = functools.lru_cache(maxsize=4096)(_scrub)


def redact_value(value: Any) -> Any:
    """`value` with every secret-keyed entry masked, at any depth. Containers are copied, never
    changed in place: the caller may still be using the dict it logged."""
    if type(value) in _SCALARS:  # most values: nothing to walk
        return value
    if isinstance(value, Mapping):  # dicts, and header-like mappings (Starlette's Headers)
        return {
            key: REDACTED if is_sensitive_key(key) and item is not None else redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if type(value) is tuple:  # not named tuples: their constructors take fields, not an iterable
        return tuple(redact_value(item) for item in value)
    return value


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Processor: mask secret-keyed values anywhere in the event, and secrets in its free text.
    Runs last before rendering, so it sees every field whichever processor added it. The event
    dict itself is the processors' to change; what its values point to is copied."""
    for key, value in event_dict.items():
        if is_sensitive_key(key):
            if value is not None:
                event_dict[key] = REDACTED
        elif type(value) not in _SCALARS:
            event_dict[key] = redact_value(value)
    for key in _TEXT_KEYS:
        text = event_dict.get(key)
        if isinstance(text, str):
            event_dict[key] = scrub_text(text)
    return event_dict


def add_request_context(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """Processor: request_id, tenant_id and user_id of the current request (None outside one).
    Values passed explicitly win, as do those stamped on a stdlib record at its creation."""
    event_dict.setdefault("request_id", request_id_var.get())
    event_dict.setdefault("tenant_id", tenant_id_var.get())
    event_dict.setdefault("user_id", user_id_var.get())
    return event_dict


def add_trace_ids(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Processor: with tracing on, `trace_id` and `span_id` of the current span, so a line can be
    found from its trace and the other way round. Off, the line has neither key."""
    for key, value in log_ids().items():
        event_dict.setdefault(key, value)
    return event_dict


def _drop_leftovers(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # Record attributes that look like `extra` but are not: uvicorn's ANSI-coloured copy of its
    # message, and what another handler's `logging.Formatter` stored on the record before ours.
    for key in ("color_message", "message", "asctime"):
        event_dict.pop(key, None)
    return event_dict


def _order_keys(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    leading = {key: event_dict[key] for key in _LEADING_KEYS if key in event_dict}
    return {**leading, **event_dict}


class _ContextRecordFactory:
    """Stamps the request context on every stdlib `LogRecord` when it is created, in the context
    of the code that logs: any handler sees it (pytest's caplog, an error tracker), and so would
    a formatter running later in another thread (a QueueHandler)."""

    def __init__(self, wrapped: Callable[..., logging.LogRecord]) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.wrapped(*args, **kwargs)
        record.__dict__.update(
            request_id=request_id_var.get(),
            tenant_id=tenant_id_var.get(),
            user_id=user_id_var.get(),
            **log_ids(),
        )
        return record


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a record is emitted, as logging's last-resort
    handler does: a stderr replaced later (pytest's capture, capsys) receives the lines, and one
    already closed is never written to."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # StreamHandler.__init__ assigns it; the property always answers sys.stderr


def _shared_processors() -> list[Processor]:
    """What every event gets, from structlog or from the standard library."""
    return [
        structlog.contextvars.merge_contextvars,
        add_request_context,
        add_trace_ids,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _rendering(log_format: str, stream: TextIO) -> list[Processor]:
    """The last processors of every event, ours and the standard library's."""
    # Tracebacks become a string field first, so that `redact` can scrub them too.
    head: list[Processor] = [structlog.processors.format_exc_info, redact]
    if log_format == "json":
        return [*head, _order_keys, structlog.processors.JSONRenderer()]
    return [*head, structlog.dev.ConsoleRenderer(colors=stream.isatty())]


def _formatter(rendering: list[Processor]) -> structlog.stdlib.ProcessorFormatter:
    """Renders the standard library's records (uvicorn, SQLAlchemy, `logging.getLogger`)."""
    return structlog.stdlib.ProcessorFormatter(
        # A record's `extra` (the context stamped at its creation included) first.
        foreign_pre_chain=[
            structlog.stdlib.ExtraAdder(),
            _drop_leftovers,
            *_shared_processors(),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )


class _HandlerWriter:
    """Where structlog's own events go once rendered: the stream of the handler the standard
    library's records go through, under its lock (lines never interleave), without the LogRecord,
    caller lookup and copy the standard library would spend on them. structlog calls the method
    named for the level; `name` is what `get_logger(name)` was given."""

    def __init__(self, handler: logging.StreamHandler[TextIO], name: str = "app") -> None:
        self.handler = handler
        self.name = name

    def msg(self, message: str) -> None:
        self.handler.acquire()
        try:
            self.handler.stream.write(message + "\n")
            self.handler.flush()
        except Exception:  # as logging does: report it on stderr, never fail the caller
            self.handler.handleError(logging.makeLogRecord({"msg": message, "name": self.name}))
        finally:
            self.handler.release()

    debug = info = warning = warn = error = critical = exception = fatal = msg


def _install_handler(handler: logging.Handler) -> None:
    root = logging.getLogger()
    # Replace only our own handler: calling this again must not stack a second one, nor remove
    # handlers others attached (pytest's capture, an error tracker).
    for existing in [h for h in root.handlers if h.name == _HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(handler)
    for name in _ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Route all logging through one set of structlog processors writing to `stream` (default
    stderr: stdout stays free for CLI output). Idempotent: calling it again reconfigures, and
    never adds a second handler."""
    log_format = settings.operations.resolved_log_format(settings.app_env)
    level = logging.getLevelNamesMapping().get(settings.log_level.upper())
    if level is None:
        raise ValueError(f"LOG_LEVEL={settings.log_level!r} is not a logging level name")
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.name = _HANDLER_NAME
    rendering = _rendering(log_format, stream or sys.stderr)
    handler.setFormatter(_formatter(rendering))
    _install_handler(handler)

    app_logger = logging.getLogger("app")
    app_logger.setLevel(level)
    app_logger.handlers.clear()
    app_logger.propagate = True
    # ObservabilityMiddleware writes the one access line per request; uvicorn's would repeat it
    # with the raw path (the run targets also pass --no-access-log, which saves formatting it).
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    if not isinstance(logging.getLogRecordFactory(), _ContextRecordFactory):
        logging.setLogRecordFactory(_ContextRecordFactory(logging.getLogRecordFactory()))

    structlog.configure(
        processors=[*_shared_processors(), *rendering],
        wrapper_class=structlog.make_filtering_bound_logger(level),  # LOG_LEVEL, as for "app"
        logger_factory=functools.partial(_HandlerWriter, handler),
        # Not cached: a logger made before configure_logging runs again (tests capturing the
        # output) must write where the new configuration says.
        cache_logger_on_first_use=False,
    )
