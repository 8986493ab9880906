"""Where the benchmark's data lives, and the environment both servers get.

Dependable reads its settings from the environment (`__` nesting); the baseline reads the same
variables, so both apps get one environment and differ only in the code that serves it.
"""

import os
import secrets
from dataclasses import dataclass, field

from app.core.config import ApiSettings, AuthSettings, DatabaseSettings, RedisSettings, Settings

# The bench owns this database: it is created when missing, migrated, and refilled every run.
DEFAULT_DATABASE_URL = (
    "postgresql+asyncpg://dependable_api:dependable_api@127.0.0.1:5432/dependable_bench"
)
DEFAULT_DATABASE_OWNER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dependable_bench"
# A logical database of its own; the bench deletes only its own keys there (see data.py).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"

# Tokens minted for the run must outlive it.
ACCESS_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class BenchSettings:
    database_url: str
    database_owner_url: str
    redis_url: str
    # A strong secret generated per run (APP_ENV=production refuses a weak one).
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    cursor_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @classmethod
    def from_env(cls) -> "BenchSettings":
        return cls(
            database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
            database_owner_url=os.environ.get(
                "BENCH_DATABASE_OWNER_URL", DEFAULT_DATABASE_OWNER_URL
            ),
            redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        )

    def app_settings(self) -> Settings:
        """Dependable's settings for this data set (for the data generator and the profile)."""
        return Settings(
            _env_file=None,
            app_env="production",
            log_level="WARNING",
            database=DatabaseSettings(url=self.database_url, migration_url=self.database_owner_url),
            redis=RedisSettings(url=self.redis_url),
            auth=AuthSettings.model_validate(
                {"secret_key": self.secret_key, "access_ttl_seconds": ACCESS_TTL_SECONDS}
            ),
            api=ApiSettings.model_validate({"cursor_secret": self.cursor_secret}),
        )

    def server_env(self, **overrides: str) -> dict[str, str]:
        """The environment of every server the runner starts (Dependable and the baseline)."""
        env = {
            "APP_ENV": "production",
            "LOG_LEVEL": "WARNING",
            "API__DOCS_ENABLED": "false",
            "DATABASE__URL": self.database_url,
            "DATABASE__MIGRATION_URL": self.database_owner_url,
            "REDIS__URL": self.redis_url,
            "AUTH__SECRET_KEY": self.secret_key,
            "API__CURSOR_SECRET": self.cursor_secret,
            "AUTH__ACCESS_TTL_SECONDS": str(ACCESS_TTL_SECONDS),
            # On, as in production; the benchmarked routes are not rate limited, so never hit.
            "RATE_LIMIT__ENABLED": "true",
            "OPERATIONS__LOG_FORMAT": "json",
        }
        env.update(overrides)
        return env


def asyncpg_dsn(url: str) -> str:
    """SQLAlchemy's `postgresql+asyncpg://` URL as the plain DSN asyncpg takes."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
