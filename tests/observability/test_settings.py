"""OperationsSettings (app/core/config.py): OPERATIONS__* from the environment, and the defaults
that depend on APP_ENV."""

from pathlib import Path

import pytest

from app.core.config import AppEnv, LogFormat, OperationsSettings, Settings

TOKEN = "t" * 32


@pytest.mark.parametrize(
    ("env", "expected"),
    [("development", "console"), ("test", "json"), ("staging", "json"), ("production", "json")],
)
def test_log_format_follows_app_env_unless_set(env: AppEnv, expected: LogFormat) -> None:
    assert OperationsSettings().resolved_log_format(env) == expected
    assert OperationsSettings(log_format="json").resolved_log_format(env) == "json"
    assert OperationsSettings(log_format="console").resolved_log_format(env) == "console"


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("OPERATIONS__LOG_FORMAT", "console")
    monkeypatch.setenv("OPERATIONS__METRICS_MODE", "bearer")
    monkeypatch.setenv("OPERATIONS__METRICS_TOKEN", TOKEN)
    monkeypatch.setenv("OPERATIONS__SHUTDOWN_TIMEOUT_SECONDS", "2.5")

    operations = Settings(_env_file=None).operations

    assert operations.log_format == "console"
    assert operations.metrics_mode == "bearer"
    assert operations.metrics_token is not None
    assert operations.metrics_token.get_secret_value() == TOKEN
    assert operations.shutdown_timeout_seconds == 2.5
    assert TOKEN not in repr(operations)


def test_empty_values_mean_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # As .env.example writes them.
    env_file = tmp_path / ".env"
    env_file.write_text("APP_ENV=test\nOPERATIONS__LOG_FORMAT=\nOPERATIONS__METRICS_TOKEN=\n")
    monkeypatch.delenv("APP_ENV", raising=False)

    operations = Settings(_env_file=env_file).operations

    assert operations.log_format is None
    assert operations.metrics_token is None
    assert operations.metrics_mode == "open"


@pytest.mark.parametrize("value", ["0", "-1"])
def test_shutdown_timeout_must_be_positive(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("OPERATIONS__SHUTDOWN_TIMEOUT_SECONDS", value)
    with pytest.raises(ValueError, match="shutdown_timeout_seconds"):
        Settings(_env_file=None)
