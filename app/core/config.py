"""Typed settings, read from the environment and `.env` (nested groups use `__`)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AppEnv = Literal["development", "test", "staging", "production"]

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-only-change-me"})
MIN_SECRET_LENGTH = 32
# The development default of API__CURSOR_SECRET: published, so refused outside development.
DEV_CURSOR_SECRET = "dev-only-insecure-cursor-secret-do-not-deploy-0123456789"  # noqa: S105
# Secrets published in this repository: the development defaults of compose, .env.example and
# these settings. Anyone can read them, so outside APP_ENV=development|test they are refused
# whatever their length. tests/core/test_published_secrets.py scans every tracked file for
# assignments of secret settings and fails when one is found that `secret_weakness` accepts.
PUBLISHED_SECRETS = frozenset(
    {
        "dev-only-change-me",
        "dev-only-insecure-compose-key-do-not-deploy-0123456789",
        DEV_CURSOR_SECRET,
    }
)
# Words that mark a value as a sample (compared lower-cased, letters and digits only). A random
# key of 32+ characters contains a given 6-letter word with odds around one in a billion.
SAMPLE_MARKERS = (
    "changeme",
    "devonly",
    "donotdeploy",
    "insecure",
    "example",
    "placeholder",
    "sample",
    "secret",
    "dummy",
    "testonly",
    "hunter2",  # the Internet's sample password
)
# "kkkk...", "abab...": long enough, but no key. A random 32-character hex key has 8 or more
# distinct characters (the odds against are below one in a million).
MIN_DISTINCT_CHARACTERS = 8


def secret_weakness(value: str, *, min_length: int = MIN_SECRET_LENGTH) -> str | None:
    """Why `value` must not guard a deployment (None when it may): a published sample, a
    placeholder, too short, a sample's wording or too little variety."""
    folded = "".join(character for character in value.lower() if character.isalnum())
    if value in PUBLISHED_SECRETS or value.strip().lower() in PLACEHOLDER_SECRETS:
        return "a placeholder published in this repository"
    if len(value) < min_length:
        return f"shorter than {min_length} characters"
    if any(marker in folded for marker in SAMPLE_MARKERS):
        return "a sample value (it reads like one)"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"made of fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    return None


class DatabaseSettings(BaseModel):
    url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/dependable"
    migration_url: str | None = Field(
        default=None, description="Owner connection for migrations; defaults to `url`."
    )
    worker_url: str | None = Field(
        default=None,
        description="The worker's connection, as a login role of its own: the only role that "
        "may run the relay's and housekeeping's cross-tenant functions (docs/security.md). "
        "Migrations create that role; the API never needs this URL.",
    )
    pool_size: int = Field(default=20, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout_seconds: float = Field(default=5.0, gt=0)
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    statement_timeout_ms: int = Field(default=10_000, ge=0)
    pool_pre_ping: bool = Field(
        default=False,
        description="Test each pooled connection before use (a round trip per request).",
    )
    transaction_pooling: bool = Field(
        default=False,
        description="`url` reaches PostgreSQL through a transaction-pooling proxy (PgBouncer "
        "with pool_mode=transaction): no named prepared statements, and the statement timeout "
        "set in each transaction instead of once per connection (docs/deployment.md).",
    )
    echo: bool = False
    replica_url: str | None = Field(
        default=None,
        description="A streaming replica of `url`'s database, for the read-only routes "
        "(`ReadSessionDep`); unset, they read on the primary (docs/deployment.md, 'Read replica').",
    )
    replica_max_lag_seconds: float = Field(
        default=5.0,
        ge=0,
        description="A read goes to the primary while the replica's replay is further behind.",
    )
    replica_connect_timeout_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How long a read waits for the replica (connect and first statement) "
        "before it reads on the primary instead.",
    )
    replica_circuit_cooldown_seconds: float = Field(
        default=5.0,
        ge=0,
        description="After the replica failed, reads skip it for this long (one timeout per "
        "cooldown, not one per request).",
    )

    @field_validator("worker_url", "replica_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def owner_url(self) -> str:
        return self.migration_url or self.url

    def for_worker(self) -> "DatabaseSettings":
        """These settings as the worker connects: `worker_url` in place of `url` (unchanged
        without one: then the worker's role is the API's, which may not run the relay)."""
        if self.worker_url is None:
            return self
        return self.model_copy(update={"url": self.worker_url})

    @property
    def read_your_writes_seconds(self) -> float:
        """How long a writer's reads check that the replica has replayed their last write. Past
        it the lag bound covers the write: a replica within `replica_max_lag_seconds` has
        replayed every commit older than that (docs/deployment.md, 'Read replica')."""
        return self.replica_max_lag_seconds + 1.0


class RedisSettings(BaseModel):
    url: str = "redis://127.0.0.1:6379/0"
    max_connections: int = Field(default=64, ge=1)
    socket_timeout_seconds: float = Field(default=0.25, gt=0)
    circuit_cooldown_seconds: float = Field(default=5.0, ge=0)
    outage_log_interval_seconds: float = Field(default=30.0, gt=0)


class AuthSettings(BaseModel):
    secret_key: SecretStr = SecretStr("dev-only-change-me")
    algorithm: Literal["HS256", "HS384", "HS512", "RS256", "ES256"] = "HS256"
    key_id: str = Field(default="k1", min_length=1, max_length=64)
    private_key: SecretStr | None = Field(
        default=None, description="PEM signing key for RS256/ES256."
    )
    public_key: str | None = Field(default=None, description="PEM verification key for RS/ES.")
    previous_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Retired verification keys by kid (HS secrets or PEM public keys), so tokens "
        "signed before a rotation stay valid until they expire.",
    )
    issuer: str = "dependable"
    audience: str = "dependable-api"
    access_ttl_seconds: int = Field(default=900, ge=60)
    refresh_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    leeway_seconds: int = Field(default=10, ge=0, le=300)

    @field_validator("private_key", "public_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    password_min_length: int = Field(default=12, ge=12)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    # Each hash in flight holds `argon2_memory_cost_kib` (64 MiB by default): this bounds what a
    # burst of logins can take (4 x 64 MiB), the others wait their turn.
    max_concurrent_hashes: int = Field(default=4, ge=1)


class TenancySettings(BaseModel):
    resolver: Literal["header", "subdomain"] = "header"
    base_domain: str | None = Field(
        default=None, description="With the subdomain resolver: acme.<base_domain> is tenant acme."
    )

    @field_validator("base_domain", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


class CacheSettings(BaseModel):
    principal_ttl_seconds: int = Field(default=60, ge=1)
    tenant_ttl_seconds: int = Field(default=60, ge=1)
    # demo:begin
    project_ttl_seconds: int = Field(
        default=300, ge=0, description="Seconds a cached project read lives; 0 turns it off."
    )
    # demo:end


class RateLimitRule(BaseModel):
    limit: int = Field(ge=1)
    period_seconds: int = Field(ge=1)


class RateLimitSettings(BaseModel):
    enabled: bool = True
    fail_open: bool = Field(
        default=True, description="When Redis is down: allow (true) or answer 503 (false)."
    )
    login_per_account: RateLimitRule = RateLimitRule(limit=10, period_seconds=300)
    login_per_address: RateLimitRule = RateLimitRule(limit=30, period_seconds=60)
    signup_per_address: RateLimitRule = RateLimitRule(limit=10, period_seconds=3600)


class EventSettings(BaseModel):
    """Domain events: the Redis streams they end up on, and how the worker relays them from the
    `outbox` table (docs/production-features.md, "Domain events")."""

    stream_max_length: int = Field(default=10_000, ge=100)
    relay_batch_size: int = Field(
        default=100, ge=1, le=10_000, description="Outbox rows one relay transaction claims."
    )
    retry_base_seconds: float = Field(
        default=1.0, gt=0, description="Wait before the first retry of a failed publish."
    )
    retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between retries (the wait doubles)."
    )
    sent_retention_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long relayed outbox rows are kept before housekeeping deletes them.",
    )


class IdempotencySettings(BaseModel):
    ttl_seconds: int = Field(default=24 * 3600, ge=60)


class ApiSettings(BaseModel):
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    cursor_secret: SecretStr = Field(
        default=SecretStr(DEV_CURSOR_SECRET),
        description="HMAC key of pagination cursors, in every AUTH__ALGORITHM; the default is "
        "for development and test only.",
    )
    docs_enabled: bool | None = Field(
        default=None,
        description="Serve /docs, /redoc and /openapi.json. Unset: on, except with "
        "APP_ENV=production.",
    )

    @field_validator("docs_enabled", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    def resolved_docs_enabled(self, app_env: AppEnv) -> bool:
        if self.docs_enabled is not None:
            return self.docs_enabled
        return app_env != "production"


# Names that only reach this machine: served in every APP_ENV unless HTTP__ALLOWED_HOSTS says
# otherwise, so a local `make run` or `curl 127.0.0.1:8000` works before any configuration.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# Plus, with APP_ENV=development|test: subdomains of localhost (browsers resolve them to the
# loopback: acme.localhost:8000 for the subdomain resolver), the test clients' names (httpx's
# `http://test`, Starlette's `testserver`) and the `.test` top-level domain, reserved for testing
# (RFC 2606), so that none of them is ever a real site.
DEVELOPMENT_HOSTS = (*LOOPBACK_HOSTS, "*.localhost", "test", "*.test", "testserver")
HSTS_ONE_YEAR = 31_536_000


class HttpSettings(BaseModel):
    """The HTTP edge: which host names the service answers for, which browser origins may call
    it (CORS), and whether it is reached over HTTPS only (HSTS). See docs/security.md, "HTTP
    hardening"."""

    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host names served (`*.example.com` for every subdomain, `*` for any), "
        "others answer 400. Unset: loopback, test and `*.localhost` names with "
        "APP_ENV=development|test, the loopback names alone otherwise.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API from another site, as the browser "
        "names them (`https://app.example.com`); empty: no CORS at all.",
    )
    https_only: bool = Field(
        default=False,
        description="The service is reached over HTTPS only (TLS ends in front of it): send "
        "Strict-Transport-Security.",
    )
    hsts_max_age_seconds: int = Field(default=HSTS_ONE_YEAR, ge=0)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("allowed_hosts")
    @classmethod
    def _host_patterns(cls, hosts: list[str] | None) -> list[str] | None:
        if hosts is None:
            return None
        for host in hosts:
            # The check compares the Host without its port, IPv6 addresses in brackets as
            # the header has them: "example.com:8000", "::1" or a URL would match nothing.
            bad_wildcard = "*" in host[1:] or (host.startswith("*") and host[:2] not in ("*", "*."))
            bracketed = host.startswith("[") and host.endswith("]")
            if not host or "/" in host or (":" in host and not bracketed) or bad_wildcard:
                msg = (
                    f"HTTP__ALLOWED_HOSTS: {host!r} is not a host name, an address ('[::1]' "
                    "for IPv6) or a pattern like '*.example.com' (no scheme, path or port)."
                )
                raise ValueError(msg)
        return [host.lower() for host in hosts]

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            exact = parts.scheme in ("http", "https") and parts.netloc and origin.count("/") == 2
            if origin != "*" and not (exact and not parts.query and not parts.fragment):
                # A browser's Origin header never has a path, not even "/": such an entry
                # would silently match nothing.
                msg = (
                    f"HTTP__CORS_ORIGINS: {origin!r} is not an origin like "
                    "'https://app.example.com' (scheme and host, optional port, no path)."
                )
                raise ValueError(msg)
        return origins

    def resolved_allowed_hosts(self, app_env: AppEnv) -> list[str]:
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        return list(DEVELOPMENT_HOSTS if app_env in ("development", "test") else LOOPBACK_HOSTS)

    def hsts_max_age(self) -> int | None:
        """The Strict-Transport-Security max-age to send, None for no header."""
        return self.hsts_max_age_seconds if self.https_only else None


class HealthSettings(BaseModel):
    check_timeout_seconds: float = Field(default=1.5, gt=0)


class WorkerSettings(BaseModel):
    """The worker process, `python -m app.worker` (docs/operations.md, "The worker")."""

    poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="Wait between relay passes when the outbox is empty."
    )
    heartbeat_path: Path = Field(
        default=Path("/tmp/dependable-worker.heartbeat"),  # noqa: S108 - the container's own /tmp
        description="File the worker rewrites after every pass; `python -m app.worker check` "
        "reads it.",
    )
    heartbeat_max_age_seconds: float = Field(
        default=30.0, gt=0, description="An older heartbeat makes `check` fail (exit 1)."
    )
    metrics_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - a container's port, for the cluster's Prometheus
        description="Address of the worker's Prometheus endpoint.",
    )
    metrics_port: int = Field(
        default=9100, ge=0, le=65_535, description="Port of /metrics; 0 turns it off."
    )
    housekeeping_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Seconds between housekeeping runs of one worker."
    )
    shutdown_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="After SIGTERM, how long the batch in hand may take to finish before it is "
        "abandoned (rolled back, its rows left for the next worker).",
    )


class TracingSettings(BaseModel):
    """OpenTelemetry traces (docs/operations.md, "Traces"): off unless `otlp_endpoint` is set.
    Off, the process builds no tracer provider and instruments nothing."""

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector that receives the spans (`http://collector:4318`; "
        "`/v1/traces` is added when the URL has no path). Unset: tracing is off.",
    )
    service_name: str = Field(
        default="dependable",
        min_length=1,
        description="The `service.name` of the spans, suffixed `-api` or `-worker` by process.",
    )
    sample_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of requests traced; a trace already sampled (the worker's relay of a "
        "traced request's event) follows its parent's decision.",
    )

    @field_validator("otlp_endpoint", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            msg = f"TRACING__OTLP_ENDPOINT: {url!r} is not an http(s) URL."
            raise ValueError(msg)
        return url

    @property
    def enabled(self) -> bool:
        return self.otlp_endpoint is not None

    def traces_url(self) -> str | None:
        """Where the exporter posts: the endpoint, with OTLP's `/v1/traces` when it has no path."""
        if self.otlp_endpoint is None:
            return None
        if urlsplit(self.otlp_endpoint).path in ("", "/"):
            return self.otlp_endpoint.rstrip("/") + "/v1/traces"
        return self.otlp_endpoint


LogFormat = Literal["json", "console"]
MetricsMode = Literal["open", "disabled", "bearer"]
MIN_METRICS_TOKEN_LENGTH = 16


class OperationsSettings(BaseModel):
    """How the process is run and watched: log format, access to /metrics, shutdown. See
    docs/operations.md."""

    log_format: LogFormat | None = Field(
        default=None, description="Unset: console with APP_ENV=development, json otherwise."
    )
    metrics_mode: MetricsMode = "open"
    metrics_token: SecretStr | None = Field(
        default=None, description="The bearer token /metrics requires in `bearer` mode."
    )
    shutdown_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest the lifespan may spend closing the pools when the server stops.",
    )

    @field_validator("log_format", "metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `OPERATIONS__LOG_FORMAT=` in a .env file means "the default", as for the other groups.
        return None if value == "" else value

    @model_validator(mode="after")
    def _bearer_needs_a_token(self) -> Self:
        token = self.metrics_token.get_secret_value() if self.metrics_token else ""
        if self.metrics_mode == "bearer" and len(token) < MIN_METRICS_TOKEN_LENGTH:
            msg = (
                "OPERATIONS__METRICS_MODE=bearer needs OPERATIONS__METRICS_TOKEN of at least "
                f"{MIN_METRICS_TOKEN_LENGTH} characters."
            )
            raise ValueError(msg)
        return self

    def resolved_log_format(self, app_env: AppEnv) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return "console" if app_env == "development" else "json"


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
    tenancy: TenancySettings = TenancySettings()
    cache: CacheSettings = CacheSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    events: EventSettings = EventSettings()
    idempotency: IdempotencySettings = IdempotencySettings()
    api: ApiSettings = ApiSettings()
    http: HttpSettings = HttpSettings()
    health: HealthSettings = HealthSettings()
    operations: OperationsSettings = OperationsSettings()
    worker: WorkerSettings = WorkerSettings()
    tracing: TracingSettings = TracingSettings()

    @property
    def is_development(self) -> bool:
        return self.app_env in ("development", "test")

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Self:
        if self.auth.algorithm.startswith(("RS", "ES")) and (
            self.auth.private_key is None or self.auth.public_key is None
        ):
            msg = (
                f"AUTH__ALGORITHM={self.auth.algorithm} needs AUTH__PRIVATE_KEY and "
                "AUTH__PUBLIC_KEY (PEM)."
            )
            raise ValueError(msg)
        if self.is_development:
            return self
        for name, value, min_length in self._secrets():
            weakness = secret_weakness(value, min_length=min_length)
            if weakness is not None:
                msg = (
                    f"{name} is {weakness}, which is refused when APP_ENV={self.app_env}. "
                    'Generate one with `python -c "import secrets; '
                    'print(secrets.token_urlsafe(48))"`.'
                )
                raise ValueError(msg)
        return self

    def _secrets(self) -> list[tuple[str, str, int]]:
        """Every secret setting in force, as (variable, value, minimum length). Public keys are
        not secrets; with RS/ES the signing key is a PEM private key, checked by its parser."""
        found: list[tuple[str, str, int]] = []
        if self.auth.algorithm.startswith("HS"):
            found.append(
                ("AUTH__SECRET_KEY", self.auth.secret_key.get_secret_value(), MIN_SECRET_LENGTH)
            )
            found += [
                (f"AUTH__PREVIOUS_KEYS[{kid}]", key.get_secret_value(), MIN_SECRET_LENGTH)
                for kid, key in self.auth.previous_keys.items()
            ]
        # Cursors have their own key in every mode: with RS/ES, AUTH__SECRET_KEY is unused and
        # unchecked, so cursors signed with it could be forged by anyone who read its default.
        found.append(
            ("API__CURSOR_SECRET", self.api.cursor_secret.get_secret_value(), MIN_SECRET_LENGTH)
        )
        if self.operations.metrics_mode == "bearer" and self.operations.metrics_token:
            token = self.operations.metrics_token.get_secret_value()
            found.append(("OPERATIONS__METRICS_TOKEN", token, MIN_METRICS_TOKEN_LENGTH))
        return found


@lru_cache
def load_settings() -> Settings:
    """Read settings once per process. Requests get them through `SettingsDep`, never from here."""
    return Settings()
