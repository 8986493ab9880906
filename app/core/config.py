"""Typed settings, read from the environment and `.env` (nested groups use `__`)."""

from functools import lru_cache
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AppEnv = Literal["development", "test", "staging", "production"]

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-only-change-me"})
MIN_SECRET_LENGTH = 32


class DatabaseSettings(BaseModel):
    url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/dependable"
    migration_url: str | None = Field(
        default=None, description="Owner connection for migrations; defaults to `url`."
    )
    pool_size: int = Field(default=20, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout_seconds: float = Field(default=5.0, gt=0)
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    statement_timeout_ms: int = Field(default=10_000, ge=0)
    echo: bool = False

    @property
    def owner_url(self) -> str:
        return self.migration_url or self.url


class RedisSettings(BaseModel):
    url: str = "redis://127.0.0.1:6379/0"
    max_connections: int = Field(default=64, ge=1)
    socket_timeout_seconds: float = Field(default=0.25, gt=0)


class AuthSettings(BaseModel):
    secret_key: SecretStr = SecretStr("dev-only-change-me")
    access_ttl_seconds: int = Field(default=900, ge=60)
    password_min_length: int = Field(default=12, ge=12)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)


class ApiSettings(BaseModel):
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    docs_enabled: bool = True


class HealthSettings(BaseModel):
    check_timeout_seconds: float = Field(default=1.5, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    app_env: AppEnv = "production"
    app_name: str = "Dependable"
    log_level: str = "INFO"
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    auth: AuthSettings = AuthSettings()
    api: ApiSettings = ApiSettings()
    health: HealthSettings = HealthSettings()

    @property
    def is_development(self) -> bool:
        return self.app_env in ("development", "test")

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> Self:
        secret = self.auth.secret_key.get_secret_value()
        weak = secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH
        if weak and not self.is_development:
            msg = (
                f"AUTH__SECRET_KEY is a placeholder or shorter than {MIN_SECRET_LENGTH} "
                f"characters, which is refused when APP_ENV={self.app_env}. Generate one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(48))"`.'
            )
            raise ValueError(msg)
        return self


@lru_cache
def load_settings() -> Settings:
    """Read settings once per process. Requests get them through `SettingsDep`, never from here."""
    return Settings()
