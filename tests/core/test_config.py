"""Settings: nested groups from the environment, and the refusal of weak secrets in production."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from tests.fixtures.secrets import strong_secret


@pytest.mark.parametrize(
    "secret", ["change-me", "dev-only-change-me", "short-but-not-a-placeholder"]
)
@pytest.mark.parametrize("env", ["production", "staging"])
def test_weak_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, env: str, secret: str
) -> None:
    monkeypatch.setenv("APP_ENV", env)
    monkeypatch.setenv("AUTH__SECRET_KEY", secret)

    with pytest.raises(ValidationError, match="AUTH__SECRET_KEY"):
        Settings(_env_file=None)


@pytest.mark.parametrize("env", ["development", "test"])
def test_placeholder_is_allowed_in_development(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("APP_ENV", env)
    monkeypatch.delenv("AUTH__SECRET_KEY", raising=False)
    assert Settings(_env_file=None).app_env == env


def test_strong_secret_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    strong = strong_secret()
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("AUTH__SECRET_KEY", strong)
    monkeypatch.setenv("API__CURSOR_SECRET", strong_secret())
    settings = Settings(_env_file=None)
    assert settings.auth.secret_key.get_secret_value() == strong
    assert strong not in repr(settings)


def test_nested_groups_read_double_underscore_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("DATABASE__POOL_SIZE", "7")
    monkeypatch.setenv("REDIS__SOCKET_TIMEOUT_SECONDS", "0.5")

    settings = Settings(_env_file=None)

    assert settings.database.pool_size == 7
    assert settings.redis.socket_timeout_seconds == 0.5


def test_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("APP_ENV=development\nAPI__MAX_BODY_BYTES=2048\n")

    settings = Settings(_env_file=env_file)

    assert settings.app_env == "development"
    assert settings.api.max_body_bytes == 2048
