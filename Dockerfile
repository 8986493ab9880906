# Dependable production image.
#
#   docker build -t dependable:local .      (needs BuildKit: RUN --mount)
#   docker compose up --build               (builds this image once, see docker-compose.yml)
#
# Three stages: "builder" resolves the locked dependencies (uv.lock) into /app/.venv with uv;
# "runtime" (the last stage, so the default target) copies that virtual environment and the source
# onto a clean slim image, without uv, compilers or caches, and runs as an unprivileged user. The
# image defaults to APP_ENV=production, so it refuses to start without real secrets
# (AUTH__SECRET_KEY, API__CURSOR_SECRET: docs/security.md); docker-compose.yml sets development.
# "dev" is for tests only, never deployed: the builder plus the dev dependency group, make and the
# whole source tree, so that `make test` runs inside the compose stack
# (`docker compose --profile test run --rm --build tests`, see docker-compose.yml).

FROM python:3.11-slim-bookworm AS builder

# uv is a single static binary; pinned so that image builds are reproducible.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

# Use the image's interpreter (never download one), compile bytecode at install time so the
# read-only runtime never needs to, and copy files out of the cache mount instead of hard-linking.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Only the dependency manifests: source edits do not invalidate this layer.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project


FROM builder AS dev

# make runs the Makefile's `test` target; the version is whatever the base image's Debian ships.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*

# The builder's runtime dependencies plus the dev group (pytest, httpx, ruff, mypy, ...).
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-install-project

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=test

# The whole build context (.dockerignore keeps .venv, .env and caches out): tests, scripts, Makefile.
COPY . .

CMD ["make", "test"]


FROM python:3.11-slim-bookworm AS runtime

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production

# A fixed uid/gid, so that volume permissions and Kubernetes runAsUser can be predicted.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app

WORKDIR /app

# Owned by root and read-only for the app user: the process cannot rewrite its own code.
COPY --from=builder /app/.venv /app/.venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
RUN python -m compileall -q app migrations

# Numeric, so that runAsNonRoot policies can verify it without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000

# Liveness only (no I/O): readiness (/health/ready) is the orchestrator's concern, see compose.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]

# --proxy-headers trusts X-Forwarded-* only from FORWARDED_ALLOW_IPS (uvicorn reads it from the
# environment; its default is 127.0.0.1). The app writes the access log itself (one JSON line per
# request, with the route template), hence --no-access-log. On SIGTERM uvicorn stops accepting,
# lets requests in flight finish for up to 20 s, then runs the lifespan shutdown: keep the
# orchestrator's grace period above that. Limits (docs/operations.md, "Server limits"; the same in
# docker-compose.yml and `make run`, checked by tests/e2e/test_server_limits.py):
#   --http h11 --h11-max-incomplete-event-size 16384: a request head (request line and headers)
#     still incomplete past 16 KiB is refused (400). Only the h11 parser has this limit; httptools,
#     which uvicorn would pick otherwise, buffers headers of any size.
#   --limit-concurrency 200: past 200 open connections or requests in flight, answer 503 at once
#     instead of queueing without bound.
#   --timeout-keep-alive 5: close a keep-alive connection idle for 5 s.
CMD ["uvicorn", "--factory", "app.main:create_app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", \
     "--no-access-log", "--timeout-graceful-shutdown", "20", "--http", "h11", \
     "--h11-max-incomplete-event-size", "16384", "--limit-concurrency", "200", "--timeout-keep-alive", "5"]
