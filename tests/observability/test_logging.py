"""configure_logging (app/core/logging.py): one formatter for structlog and the standard
library, JSON outside development, the request context on every line, configured idempotently."""

import json
import logging

import pytest
import structlog

from app.core.config import Settings
from app.core.context import request_id_var, tenant_id_var, user_id_var
from app.core.logging import configure_logging
from tests.fixtures.settings import make_settings
from tests.observability.conftest import CaptureLogs

SHAPE = {"timestamp", "level", "logger", "event", "request_id", "tenant_id", "user_id"}


@pytest.fixture
def request_context() -> object:
    tokens = [
        (request_id_var, request_id_var.set("req-1")),
        (tenant_id_var, tenant_id_var.set("tenant-1")),
        (user_id_var, user_id_var.set("user-1")),
    ]
    yield
    for var, token in reversed(tokens):
        var.reset(token)


class TestOneShape:
    def test_structlog_and_stdlib_lines_are_json_with_the_same_keys(
        self, capture_logs: CaptureLogs
    ) -> None:
        logs = capture_logs()

        structlog.get_logger("app.test").info("from structlog", answer=42)
        logging.getLogger("app.errors").error("from %s", "app.errors")
        logging.getLogger("uvicorn.error").warning("from uvicorn")
        logging.getLogger("sqlalchemy.engine").warning("from sqlalchemy")
        logging.getLogger("app.test").info("with extra", extra={"attempt": 2})

        lines = logs.lines()
        assert [line["event"] for line in lines] == [
            "from structlog",
            "from app.errors",
            "from uvicorn",
            "from sqlalchemy",
            "with extra",
        ]
        for line in lines:
            assert line.keys() >= SHAPE
        assert [line["logger"] for line in lines] == [
            "app.test",
            "app.errors",
            "uvicorn.error",
            "sqlalchemy.engine",
            "app.test",
        ]
        assert lines[0]["answer"] == 42
        assert lines[4]["attempt"] == 2
        assert lines[1]["level"] == "error"

    @pytest.mark.usefixtures("request_context")
    def test_every_line_carries_the_request_context(self, capture_logs: CaptureLogs) -> None:
        logs = capture_logs()

        structlog.get_logger("app.test").info("structlog")
        logging.getLogger("app.test").info("stdlib")
        logging.getLogger("uvicorn.error").warning("uvicorn")

        for line in logs.lines():
            assert (line["request_id"], line["tenant_id"], line["user_id"]) == (
                "req-1",
                "tenant-1",
                "user-1",
            )

    def test_outside_a_request_the_context_is_null(self, capture_logs: CaptureLogs) -> None:
        logs = capture_logs()
        logging.getLogger("app.test").info("startup")
        [line] = logs.lines()
        assert (line["request_id"], line["tenant_id"], line["user_id"]) == (None, None, None)

    def test_tracebacks_are_one_json_field(self, capture_logs: CaptureLogs) -> None:
        logs = capture_logs()
        try:
            raise ValueError("bad value")
        except ValueError:
            logging.getLogger("app.errors").exception("it failed")

        [line] = logs.lines()
        assert line["event"] == "it failed"
        assert "ValueError: bad value" in line["exception"]

    def test_uvicorns_access_log_is_silenced(self, capture_logs: CaptureLogs) -> None:
        # ObservabilityMiddleware writes the one access line per request.
        logs = capture_logs()
        logging.getLogger("uvicorn.access").info('127.0.0.1:1 - "GET / HTTP/1.1" 200')
        assert logs.lines() == []

    def test_the_app_level_applies_to_the_app_loggers(self, capture_logs: CaptureLogs) -> None:
        logs = capture_logs(make_settings(log_level="WARNING"))
        structlog.get_logger("app.test").info("dropped")
        logging.getLogger("app.test").info("dropped too")
        logging.getLogger("app.test").warning("kept")
        assert [line["event"] for line in logs.lines()] == ["kept"]


class TestFormat:
    def test_development_is_human_readable(self, capture_logs: CaptureLogs) -> None:
        logs = capture_logs(make_settings(app_env="development"))

        structlog.get_logger("app.test").info("hello", route="/health/live")
        logging.getLogger("app.errors").warning("stdlib too")

        text = logs.text
        assert "hello" in text
        assert "route=/health/live" in text
        assert "stdlib too" in text
        for line in text.splitlines():
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)

    def test_the_setting_overrides_the_default(self, capture_logs: CaptureLogs) -> None:
        settings = make_settings(app_env="development", operations={"log_format": "json"})
        logs = capture_logs(settings)
        logging.getLogger("app.test").warning("json in development")
        assert logs.lines()[0]["event"] == "json in development"


class TestConfiguredOnce:
    def test_configuring_again_does_not_double_lines(
        self, capture_logs: CaptureLogs, settings: Settings
    ) -> None:
        logs = capture_logs()
        configure_logging(settings, stream=logs.buffer)
        configure_logging(settings, stream=logs.buffer)

        logging.getLogger("app.test").warning("once")
        structlog.get_logger("app.test").warning("once too")

        assert [line["event"] for line in logs.lines()] == ["once", "once too"]
        ours = [h for h in logging.getLogger().handlers if h.name == "dependable"]
        assert len(ours) == 1

    def test_other_handlers_are_left_alone(
        self, capture_logs: CaptureLogs, settings: Settings
    ) -> None:
        other = logging.NullHandler()
        logging.getLogger().addHandler(other)
        try:
            capture_logs()
            configure_logging(settings)
            assert other in logging.getLogger().handlers
        finally:
            logging.getLogger().removeHandler(other)
