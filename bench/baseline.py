"""The raw baseline: what each benchmarked Dependable endpoint does, written by hand.

Starlette routing, asyncpg, redis-py, python-jose and orjson; no dependency injection, no ORM,
no pydantic. It reads the same environment as Dependable (`DATABASE__URL`, `REDIS__URL`,
`AUTH__*`, `CACHE__*`), connects as the same unprivileged role, and answers with the same JSON,
so the two differ only in how they get there. Served by `uvicorn --factory
bench.baseline:create_app`.

Every authenticated request here:

1. verifies the bearer JWT as `app.core.security.JWTCodec` does: the algorithm pinned, the `kid`
   known, signature, `iss`, `aud`, `exp`/`nbf`/`iat` (with the leeway) and every claim present;
2. makes ONE Redis round trip, pipelined: `EXISTS` of Dependable's own denylist keys
   (`denylist:jti:<jti>`, `denylist:family:<fam>`), `GET` of the caller (role, active, tenant
   active: cached 60 s like Dependable's principal and tenant), and, for routes under a project,
   `GET` of the cached project (when the project cache is on);
3. on a cache miss reads what is missing from PostgreSQL and caches it (rare: once per TTL);
4. runs its SQL in one transaction that first binds the tenant for row-level security,
   `BEGIN; SELECT set_config('app.tenant_id', <token's tenant>, true)` (one round trip), then
   the statement(s) the endpoint needs, then `COMMIT`;
5. answers with orjson.

Not implemented, because the benchmark never exercises them: the PostgreSQL fallback when Redis
is down, the `X-Tenant` header, problem details beyond status and title, `Idempotency-Key`.
"""

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import orjson
from jose import jwt
from jose.exceptions import JOSEError
from redis.asyncio import ConnectionPool, Redis
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
REQUIRED_CLAIMS = ("iss", "aud", "sub", "tid", "role", "jti", "fam", "iat", "nbf", "exp")
TASK_STATUSES = frozenset({"todo", "doing", "done"})
TASK_FIELDS = frozenset({"title", "description", "status", "assignee_id", "due_date"})

# The statements, spelled out. Each filters by the tenant too, as Dependable's repositories do;
# row-level security checks the same in PostgreSQL.
CALLER_SQL = (
    "SELECT u.role::text FROM users u JOIN tenants t ON t.id = u.tenant_id "
    "WHERE u.id = $1 AND u.tenant_id = $2 AND u.is_active AND t.is_active"
)
USER_SQL = (
    "SELECT id, tenant_id, email, full_name, role, is_active, created_at "
    "FROM users WHERE id = $1 AND tenant_id = $2"
)
PROJECT_SQL = (
    "SELECT id, name, description, created_by, version, created_at, updated_at "
    "FROM projects WHERE id = $1 AND tenant_id = $2"
)
FIRST_PAGE_SQL = (
    "SELECT id, project_id, title, description, status, assignee_id, due_date, version, "
    "created_at, updated_at FROM tasks WHERE tenant_id = $1 AND project_id = $2 "
    "ORDER BY created_at, id LIMIT $3"
)
NEXT_PAGE_SQL = (
    "SELECT id, project_id, title, description, status, assignee_id, due_date, version, "
    "created_at, updated_at FROM tasks WHERE tenant_id = $1 AND project_id = $2 "
    "AND (created_at, id) > ($3, $4) ORDER BY created_at, id LIMIT $5"
)
ASSIGNEE_SQL = "SELECT 1 FROM users WHERE id = $1 AND tenant_id = $2"
INSERT_TASK_SQL = (
    "INSERT INTO tasks (id, tenant_id, project_id, title, description, status, assignee_id, "
    "due_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, project_id, title, "
    "description, status, assignee_id, due_date, version, created_at, updated_at"
)
# The event goes into the outbox in the write's transaction, as Dependable records it (the worker
# publishes it later, outside the request).
INSERT_EVENT_SQL = (
    "INSERT INTO outbox (id, tenant_id, type, data, occurred_at) VALUES ($1, $2, $3, $4::jsonb, $5)"
)


class ProblemError(Exception):
    def __init__(self, status: int, title: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # OPT_UTC_Z: datetimes end in "Z", as pydantic writes them.
    body = content if isinstance(content, bytes) else orjson.dumps(content, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def problem_response(error: ProblemError) -> Response:
    body = {"type": "about:blank", "title": error.title, "status": error.status}
    return Response(orjson.dumps(body), error.status, media_type="application/problem+json")


@dataclass(frozen=True, slots=True)
class Config:
    database_dsn: str
    pool_size: int
    pool_overflow: int
    statement_timeout_ms: int
    redis_url: str
    redis_max_connections: int
    redis_timeout: float
    secret_key: str
    cursor_secret: str
    algorithm: str
    key_id: str
    issuer: str
    audience: str
    leeway: int
    caller_ttl: int
    project_ttl: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Config":
        env = environ.get
        return cls(
            database_dsn=env("DATABASE__URL", "").replace("postgresql+asyncpg://", "postgresql://"),
            pool_size=int(env("DATABASE__POOL_SIZE", "20")),
            pool_overflow=int(env("DATABASE__MAX_OVERFLOW", "10")),
            statement_timeout_ms=int(env("DATABASE__STATEMENT_TIMEOUT_MS", "10000")),
            redis_url=env("REDIS__URL", "redis://127.0.0.1:6379/0"),
            redis_max_connections=int(env("REDIS__MAX_CONNECTIONS", "64")),
            redis_timeout=float(env("REDIS__SOCKET_TIMEOUT_SECONDS", "0.25")),
            secret_key=env("AUTH__SECRET_KEY", ""),
            cursor_secret=env("API__CURSOR_SECRET", ""),
            algorithm=env("AUTH__ALGORITHM", "HS256"),
            key_id=env("AUTH__KEY_ID", "k1"),
            issuer=env("AUTH__ISSUER", "dependable"),
            audience=env("AUTH__AUDIENCE", "dependable-api"),
            leeway=int(env("AUTH__LEEWAY_SECONDS", "10")),
            caller_ttl=int(env("CACHE__PRINCIPAL_TTL_SECONDS", "60")),
            project_ttl=int(env("CACHE__PROJECT_TTL_SECONDS", "300")),
        )


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    token_id: str
    family_id: str


@dataclass(frozen=True, slots=True)
class Caller:
    claims: Claims
    role: str
    # Values of the extra keys fetched in the same Redis round trip (None when absent).
    cached: list[bytes | None]


class CursorCodec:
    """The cursor format of `app.core.pagination.CursorCodec` (same key derivation, payload and
    truncated HMAC), so a cursor from either app pages the other."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"dependable/cursor/v1", hashlib.sha256).digest()

    def encode(self, created_at: datetime, id_: uuid.UUID) -> str:
        payload = json.dumps([created_at.isoformat(), str(id_)], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, cursor: str) -> tuple[datetime, uuid.UUID]:
        try:
            encoded, signature = cursor.split(".")
            payload = _unb64(encoded)
            if not hmac.compare_digest(_unb64(signature), self._sign(payload)):
                raise ProblemError(422, "Invalid cursor")
            created_at, id_ = json.loads(payload)
            return datetime.fromisoformat(created_at), uuid.UUID(id_)
        except (ValueError, TypeError, UnicodeDecodeError) as error:
            raise ProblemError(422, "Invalid cursor") from error

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def _init_connection(connection: asyncpg.Connection) -> None:
    # uuid columns as text: asyncpg's own UUID type is not one orjson serialises.
    await connection.set_type_codec(
        "uuid", encoder=str, decoder=str, schema="pg_catalog", format="text"
    )


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Every request ends its transaction (COMMIT or ROLLBACK) and the tenant setting is
    transaction-local, so a returned connection needs no reset query (asyncpg's default reset
    would cost a round trip per request). One left in a transaction is rolled back."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class Baseline:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.cursors = CursorCodec(config.cursor_secret.encode())
        self._pool: asyncpg.Pool | None = None
        self._redis: Redis | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the lifespan opens the pool")
        return self._pool

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the lifespan opens Redis")
        return self._redis

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._pool = await asyncpg.create_pool(
            self.config.database_dsn,
            min_size=1,
            max_size=self.config.pool_size + self.config.pool_overflow,
            init=_init_connection,
            reset=_no_reset,
            server_settings={
                "application_name": "dependable-baseline",
                "statement_timeout": str(self.config.statement_timeout_ms),
            },
        )
        self._redis = Redis(
            connection_pool=ConnectionPool.from_url(
                self.config.redis_url,
                max_connections=self.config.redis_max_connections,
                socket_timeout=self.config.redis_timeout,
                socket_connect_timeout=self.config.redis_timeout,
            )
        )
        try:
            yield
        finally:
            await self._redis.aclose(close_connection_pool=True)
            await self._pool.close()

    # --- authentication ---------------------------------------------------------------------

    def decode(self, token: str) -> Claims:
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != config.key_id or header.get("alg") != config.algorithm:
                raise ProblemError(401, "Invalid token")
            payload = jwt.decode(
                token,
                config.secret_key,
                algorithms=[config.algorithm],
                audience=config.audience,
                issuer=config.issuer,
                options={
                    "leeway": config.leeway,
                    **{
                        f"require_{claim}": True
                        for claim in ("aud", "iss", "sub", "jti", "iat", "nbf", "exp")
                    },
                },
            )
            if any(claim not in payload for claim in REQUIRED_CLAIMS):
                raise ProblemError(401, "Invalid token")
            return Claims(
                user_id=uuid.UUID(payload["sub"]),
                tenant_id=uuid.UUID(payload["tid"]),
                token_id=str(payload["jti"]),
                family_id=str(uuid.UUID(payload["fam"])),
            )
        except (JOSEError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise ProblemError(401, "Invalid token") from error

    async def authenticate(
        self, request: Request, minimum: str, project_id: uuid.UUID | None = None
    ) -> Caller:
        """Token, denylist and caller in one Redis round trip; with `project_id` (and the
        project cache on) the cached project comes back in the same round trip."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ProblemError(401, "Not authenticated")
        claims = self.decode(token)
        caller_key = f"baseline:caller:{claims.tenant_id}:{claims.user_id}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(f"denylist:jti:{claims.token_id}", f"denylist:family:{claims.family_id}")
            pipe.get("denylist:since")  # read as Dependable reads it (its check never fails here)
            pipe.get(caller_key)
            if project_id is not None and self.config.project_ttl:
                pipe.get(self._project_key(claims.tenant_id, project_id))
            denied, _since, role, *cached = await pipe.execute()
        if denied:
            raise ProblemError(401, "Invalid token")
        if role is None:
            async with self.transaction(claims.tenant_id) as connection:
                role = await connection.fetchval(CALLER_SQL, claims.user_id, claims.tenant_id)
            if role is None:
                raise ProblemError(401, "Invalid token")
            await self.redis.set(caller_key, role, ex=self.config.caller_ttl)
        role = role.decode() if isinstance(role, bytes) else role
        if ROLE_RANK[role] < ROLE_RANK[minimum]:
            raise ProblemError(403, "Insufficient role")
        return Caller(claims=claims, role=role, cached=cached)

    @asynccontextmanager
    async def transaction(self, tenant_id: uuid.UUID) -> AsyncIterator[asyncpg.Connection]:
        """A transaction bound to the tenant for row-level security; BEGIN and the binding go
        in one round trip (the tenant id is a parsed UUID, so the literal is safe)."""
        async with self.pool.acquire() as connection:
            await connection.execute(
                f"BEGIN; SELECT set_config('app.tenant_id', '{tenant_id}', true)"
            )
            try:
                yield connection
            except BaseException:
                await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")

    # --- endpoints --------------------------------------------------------------------------

    async def empty(self, request: Request) -> Response:
        return json_response({"ok": True})

    async def users_me(self, request: Request) -> Response:
        caller = await self.authenticate(request, "viewer")
        claims = caller.claims
        async with self.transaction(claims.tenant_id) as connection:
            row = await connection.fetchrow(USER_SQL, claims.user_id, claims.tenant_id)
        if row is None:
            raise ProblemError(404, "User not found")
        return json_response(dict(row))

    def _project_key(self, tenant_id: uuid.UUID, project_id: uuid.UUID) -> str:
        return f"baseline:project:{tenant_id}:{project_id}"

    async def _project(
        self,
        caller: Caller,
        project_id: uuid.UUID,
        connection: asyncpg.Connection | None = None,
    ) -> bytes:
        """The project as JSON: from the pipelined GET when cached, else one SELECT (in the
        caller's transaction when it has one), cached for the configured TTL."""
        if self.config.project_ttl and caller.cached and caller.cached[0] is not None:
            return caller.cached[0]
        tenant_id = caller.claims.tenant_id
        if connection is None:
            async with self.transaction(tenant_id) as own:
                row = await own.fetchrow(PROJECT_SQL, project_id, tenant_id)
        else:
            row = await connection.fetchrow(PROJECT_SQL, project_id, tenant_id)
        if row is None:
            raise ProblemError(404, "Project not found")
        body = orjson.dumps(dict(row), option=orjson.OPT_UTC_Z)
        if self.config.project_ttl:
            key = self._project_key(tenant_id, project_id)
            await self.redis.set(key, body, ex=self.config.project_ttl)
        return body

    async def read_project(self, request: Request) -> Response:
        project_id: uuid.UUID = request.path_params["project_id"]
        caller = await self.authenticate(request, "viewer", project_id)
        body = await self._project(caller, project_id)
        version = orjson.loads(body)["version"]
        return json_response(body, headers={"ETag": f'"{version}"'})

    async def list_tasks(self, request: Request) -> Response:
        project_id: uuid.UUID = request.path_params["project_id"]
        caller = await self.authenticate(request, "viewer", project_id)
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError as error:
            raise ProblemError(422, "Invalid limit") from error
        if not 1 <= limit <= 100:
            raise ProblemError(422, "Invalid limit")
        cursor = request.query_params.get("cursor")
        if cursor is not None and len(cursor) > 512:
            raise ProblemError(422, "Invalid cursor")
        after = self.cursors.decode(cursor) if cursor else None
        tenant_id = caller.claims.tenant_id
        async with self.transaction(tenant_id) as connection:
            await self._project(caller, project_id, connection)
            if after is None:
                rows = await connection.fetch(
                    FIRST_PAGE_SQL,
                    tenant_id,
                    project_id,
                    limit + 1,
                )
            else:
                rows = await connection.fetch(
                    NEXT_PAGE_SQL,
                    tenant_id,
                    project_id,
                    after[0],
                    after[1],
                    limit + 1,
                )
        items = rows[:limit]
        next_cursor = (
            self.cursors.encode(items[-1]["created_at"], items[-1]["id"])
            if len(rows) > limit
            else None
        )
        return json_response({"items": [dict(row) for row in items], "next_cursor": next_cursor})

    async def create_task(self, request: Request) -> Response:
        project_id: uuid.UUID = request.path_params["project_id"]
        caller = await self.authenticate(request, "member", project_id)
        fields = _task_fields(await request.body())
        tenant_id = caller.claims.tenant_id
        async with self.transaction(tenant_id) as connection:
            await self._project(caller, project_id, connection)
            if fields["assignee_id"] is not None:
                found = await connection.fetchval(ASSIGNEE_SQL, fields["assignee_id"], tenant_id)
                if found is None:
                    raise ProblemError(422, "Invalid assignee")
            row = await connection.fetchrow(
                INSERT_TASK_SQL,
                uuid.uuid4(),
                tenant_id,
                project_id,
                fields["title"],
                fields["description"],
                fields["status"],
                fields["assignee_id"],
                fields["due_date"],
            )
            event = {
                "task_id": str(row["id"]),
                "project_id": str(project_id),
                "status": row["status"],
                "by": str(caller.claims.user_id),
            }
            await connection.execute(
                INSERT_EVENT_SQL,
                uuid.uuid4(),
                tenant_id,
                "task.created",
                orjson.dumps(event).decode(),
                datetime.now(UTC),
            )
        task = dict(row)
        return json_response(task, status=201, headers={"ETag": f'"{task["version"]}"'})


def _task_fields(raw: bytes) -> dict[str, Any]:
    """TaskCreate's rules, by hand: known fields only, strings stripped, lengths, enum, types."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ProblemError(422, "Invalid JSON") from error
    if not isinstance(body, dict) or not body.keys() <= TASK_FIELDS:
        raise ProblemError(422, "Invalid task")
    title = body.get("title")
    description = body.get("description", "")
    status = body.get("status", "todo")
    if not isinstance(title, str) or not 1 <= len(title := title.strip()) <= 200:
        raise ProblemError(422, "Invalid title")
    if not isinstance(description, str) or len(description := description.strip()) > 10_000:
        raise ProblemError(422, "Invalid description")
    if status not in TASK_STATUSES:
        raise ProblemError(422, "Invalid status")
    try:
        assignee = body.get("assignee_id")
        assignee_id = uuid.UUID(assignee) if assignee is not None else None
        due = body.get("due_date")
        due_date = date.fromisoformat(due) if due is not None else None
    except (ValueError, TypeError, AttributeError) as error:
        raise ProblemError(422, "Invalid task") from error
    return {
        "title": title,
        "description": description,
        "status": status,
        "assignee_id": assignee_id,
        "due_date": due_date,
    }


def create_app(config: Config | None = None) -> Starlette:
    """The ASGI app (uvicorn calls it with no argument: the config comes from the environment)."""
    baseline = Baseline(config or Config.from_env())

    def endpoint(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except ProblemError as error:
                return problem_response(error)
            except ClientDisconnect:
                # wrk closes its connections mid-request when a run ends.
                return Response(status_code=499)
            return response

        return run

    routes = [
        Route("/empty", endpoint(baseline.empty)),
        Route("/api/v1/users/me", endpoint(baseline.users_me)),
        Route("/api/v1/projects/{project_id:uuid}", endpoint(baseline.read_project)),
        Route(
            "/api/v1/projects/{project_id:uuid}/tasks",
            endpoint(baseline.list_tasks),
            methods=["GET"],
        ),
        Route(
            "/api/v1/projects/{project_id:uuid}/tasks",
            endpoint(baseline.create_task),
            methods=["POST"],
        ),
    ]
    return Starlette(routes=routes, lifespan=baseline.lifespan)
