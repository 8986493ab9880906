#!/usr/bin/env bash
# Smoke test of the compose stack (`make compose-smoke`; CI's "compose smoke" phase).
#
# Builds the image, starts db, redis, migrate, api and worker from docker-compose.yml under a
# throwaway project name, then checks through the published port: migrate exited 0, api and worker
# are healthy (the worker's health check is its heartbeat, `python -m app.worker check`),
# /health/ready says ok, a tenant signup, a login (POST /api/v1/auth/token), GET /api/v1/users/me
# with the token, a user added by the owner with an Idempotency-Key (and replayed) whose
# `user.created` is relayed end to end (the api's outbox row, published by the worker to the
# tenant's Redis stream and marked sent), and that neither the api nor the worker process is root.
# With the demo, also the demo's seed command, twice. Always ends with `down -v --remove-orphans`;
# on failure it first prints the logs of the services that failed.
#
# Isolation from the developer's own setup:
#   * only docker-compose.yml plus an override generated here (never docker-compose.override.yml,
#     COMPOSE_FILE or COMPOSE_PROFILES), and an empty --env-file instead of the repo's .env; the
#     override also drops the services' `env_file: .env`;
#   * project dependable-smoke-<pid>, image dependable:smoke-<pid> (removed at the end), so a
#     running `dependable` stack and its dependable:local image are left alone;
#   * nothing is published but the api, on a free port chosen now (API_PORT): 5432, 6379 and 8000
#     may belong to local servers.
#
# Engine: a Docker engine that answers `docker info` (with Compose >= 2.24). Failing that, the
# offline tool ($OFFLINE_DOCKER, else ../shared/tools/offline-docker.sh beside the repository):
# private dockerd, Debian stand-ins for the upstream images, BuildKit pre-build, `up --no-build`.
# A dockerd this script started is stopped at the end; one already running is left running.
#
# Variables: OFFLINE_DOCKER (path of offline-docker.sh), SMOKE_WAIT_TIMEOUT (seconds for
# `up --wait`, default 180).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PROJECT=dependable-smoke-$$
IMAGE=dependable:smoke-$$
WAIT_TIMEOUT=${SMOKE_WAIT_TIMEOUT:-180}
OFFLINE_TOOL=${OFFLINE_DOCKER:-$ROOT/../shared/tools/offline-docker.sh}
STANDIN_LABEL=offline-docker.standin

# Settings a developer may have exported for their own stack must not reach this one.
unset COMPOSE_FILE COMPOSE_PROFILES COMPOSE_PROJECT_NAME COMPOSE_ENV_FILES

log() { printf 'compose-smoke: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
# Milliseconds since the epoch: bash 5's EPOCHREALTIME, else python3 (macOS ships bash 3.2 and a
# date without %N).
ms_now() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local us=${EPOCHREALTIME/[.,]/}
    echo $((us / 1000))
  else
    python3 -c 'import time; print(int(time.time() * 1000))'
  fi
}
secs() { printf '%d.%01d' $(($1 / 1000)) $(($1 % 1000 / 100)); } # MILLISECONDS -> "12.3"

RUN_START=$(ms_now)
TIMINGS=()
CURRENT_STEP=""
STEP_START=0

# step NAME COMMAND...: run one timed step; a failure ends the script (the EXIT trap cleans up).
step() {
  CURRENT_STEP=$1
  shift
  log "--> $CURRENT_STEP"
  STEP_START=$(ms_now)
  "$@"
  local took
  took=$(secs $(($(ms_now) - STEP_START)))
  TIMINGS+=("${took}s  $CURRENT_STEP")
  log "<-- $CURRENT_STEP: ok in ${took}s"
  CURRENT_STEP=""
}

standin_banner() {
  cat >&2 <<'EOF'
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!! STAND-IN IMAGES. This run uses offline-docker.sh (no other Docker engine): a private
!!! dockerd and Debian-built images TAGGED AS python, ghcr.io/astral-sh/uv, postgres and redis.
!!! They are NOT the upstream images (versions and distribution differ: see "versions" in the log).
!!! A pass proves the Dockerfile, the compose wiring and the app, NOT the real images.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
EOF
}

# ----------------------------------------------------------------------------- cleanup --
TMP=""
DC=()
STACK_CREATED=false
IMAGE_BUILT=false

# container STATE of a service: "running healthy", "exited 0", "running none", "" when absent.
service_state() { # SERVICE
  local id
  id=$("${DC[@]}" ps -a -q "$1" 2>/dev/null | head -n 1)
  [ -n "$id" ] || return 0
  docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id"
}

print_failure_logs() {
  local svc state failing=()
  log "containers of $PROJECT:"
  "${DC[@]}" ps -a >&2 || true
  for svc in $("${DC[@]}" config --services 2>/dev/null); do
    state=$(service_state "$svc")
    case $svc:$state in
      migrate:"exited "*" 0") ;;
      *:"running healthy "*) ;;
      *:"running none "*) ;;
      *:) log "$svc: no container" ;;
      *:"created "*) log "$svc: created, never started (it waits for a failed dependency)" ;;
      *) failing+=("$svc") ;;
    esac
  done
  # Nothing failed at the container level (an HTTP or event check did): api and worker are.
  [ "${#failing[@]}" -gt 0 ] || failing=(api worker)
  for svc in "${failing[@]}"; do
    log "==================== logs of $svc ($(service_state "$svc")) ===================="
    "${DC[@]}" logs --no-color --timestamps --tail 200 "$svc" >&2 || true
  done
}

cleanup() {
  local rc=$? t
  set +e
  trap - EXIT INT TERM
  if [ -n "$CURRENT_STEP" ]; then
    TIMINGS+=("$(secs $(($(ms_now) - STEP_START)))s  $CURRENT_STEP (FAILED)")
    log "FAILED during: $CURRENT_STEP (exit $rc)"
  fi
  if [ "$rc" -ne 0 ] && $STACK_CREATED; then print_failure_logs; fi
  t=$(ms_now)
  if $STACK_CREATED; then
    log "--> down -v --remove-orphans"
    "${DC[@]}" down -v --remove-orphans --timeout 10 >&2 || log "WARNING: down failed"
  fi
  if $IMAGE_BUILT; then docker image rm "$IMAGE" >/dev/null 2>&1; fi
  [ -z "$TMP" ] || rm -rf "$TMP"
  TIMINGS+=("$(secs $(($(ms_now) - t)))s  teardown")
  if $STARTED_DOCKERD; then
    t=$(ms_now)
    bash "$OFFLINE_TOOL" stop
    TIMINGS+=("$(secs $(($(ms_now) - t)))s  stop the private dockerd (started by this run)")
  fi
  {
    echo
    echo "compose-smoke timings:"
    for t in "${TIMINGS[@]}"; do echo "  $t"; done
    echo "  $(secs $(($(ms_now) - RUN_START)))s  total"
  } >&2
  $USE_OFFLINE && standin_banner
  if [ "$rc" -eq 0 ]; then
    log "PASSED$($USE_OFFLINE && echo ' (on Debian stand-in images, see above)')"
  else
    log "FAILED (exit $rc)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------------ engine --
USE_OFFLINE=false
STARTED_DOCKERD=false
offline_env=""
if [ -f "$OFFLINE_TOOL" ]; then
  offline_env=$(bash "$OFFLINE_TOOL" env)
fi
# The offline tool's own dockerd counts as the offline path (BuildKit pre-build needed), even
# when a previous `eval "$(offline-docker.sh start)"` left DOCKER_HOST pointing at it.
if [ -n "$offline_env" ] && [ "${DOCKER_HOST:-}" = "$(eval "$offline_env"; echo "$DOCKER_HOST")" ]; then
  USE_OFFLINE=true
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  USE_OFFLINE=false
elif [ -n "$offline_env" ]; then
  USE_OFFLINE=true
else
  die "no Docker engine answers (\`docker info\` failed) and the offline tool is not at" \
    "$OFFLINE_TOOL. Start Docker (with Compose v2), or set OFFLINE_DOCKER to offline-docker.sh."
fi

if $USE_OFFLINE; then
  standin_banner
  eval "$offline_env"
  if ! docker info >/dev/null 2>&1; then STARTED_DOCKERD=true; fi
  start_engine() {
    local lines
    lines=$(bash "$OFFLINE_TOOL" start)
    eval "$lines"
  }
  step "engine (offline-docker.sh start)" start_engine
  ENGINE="private dockerd of offline-docker.sh ($DOCKER_HOST)"
else
  ENGINE="Docker engine at ${DOCKER_HOST:-the default socket}"
fi

compose_version=$(docker compose version --short 2>/dev/null) ||
  die "\`docker compose\` (Compose v2) is not installed for this docker CLI."
compose_version=${compose_version#v}
IFS=. read -r cv_major cv_minor _ <<<"$compose_version"
if [ "$cv_major" -lt 2 ] || { [ "$cv_major" -eq 2 ] && [ "$cv_minor" -lt 24 ]; }; then
  die "Docker Compose $compose_version is too old: need 2.24 or newer (\`!reset\`, env_file required:)."
fi
log "engine: $ENGINE; Docker Compose $compose_version; project $PROJECT"

# ------------------------------------------------------------------------------ compose setup --
TMP=$(mktemp -d "${TMPDIR:-/tmp}/compose-smoke.XXXXXX")
: >"$TMP/empty.env"
cat >"$TMP/smoke.override.yml" <<'EOF'
# Generated by scripts/compose-smoke.sh: no .env from the developer's checkout.
services:
  migrate:
    env_file: !reset []
  api:
    env_file: !reset []
  worker:
    env_file: !reset []
EOF

API_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1]); s.close()')
export API_PORT DEPENDABLE_IMAGE=$IMAGE
DC=(docker compose -p "$PROJECT" --env-file "$TMP/empty.env" -f docker-compose.yml -f "$TMP/smoke.override.yml")

# ---------------------------------------------------------------------------------- the run --
build_images() {
  IMAGE_BUILT=true
  if $USE_OFFLINE; then
    # Compose's own build uses the classic builder here (no RUN --mount): BuildKit pre-build.
    bash "$OFFLINE_TOOL" standins Dockerfile docker-compose.yml
    bash "$OFFLINE_TOOL" compose-build -f docker-compose.yml -f "$TMP/smoke.override.yml"
  else
    "${DC[@]}" build
  fi
}

stack_up() {
  STACK_CREATED=true
  "${DC[@]}" up -d --no-build --wait --wait-timeout "$WAIT_TIMEOUT"
}

check_containers() {
  local migrate api worker
  migrate=$(service_state migrate)
  api=$(service_state api)
  worker=$(service_state worker)
  log "migrate: $migrate; api: $api; worker: $worker"
  [[ $migrate == "exited "*" 0" ]] || die "migrate did not exit 0 ($migrate)"
  [[ $api == "running healthy "* ]] || die "api is not running and healthy ($api)"
  [[ $worker == "running healthy "* ]] || die "worker is not running and healthy ($worker)"
  log "worker: $("${DC[@]}" exec -T worker python -m app.worker check --ready 2>&1)"
  local published
  published=$("${DC[@]}" port api 8000)
  [ "${published##*:}" = "$API_PORT" ] || die "api is published on $published, not port $API_PORT"
  log "api published on $published"
}

# Prints the tenant's id and the id of the user it adds to $TMP/created, for event_relayed.
http_checks() {
  python3 - "http://127.0.0.1:$API_PORT" >"$TMP/created" <<'EOF'
import http.client
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = sys.argv[1]
# No proxy: an HTTP(S)_PROXY in the environment must not intercept 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fail(message: str) -> None:
    print(f"compose-smoke: ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def call(method, path, *, expect, json_body=None, form=None, headers=None, retry_for=0.0):
    data, hdrs = None, dict(headers or {})
    if json_body is not None:
        data, hdrs["Content-Type"] = json.dumps(json_body).encode(), "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=hdrs)
    deadline = time.monotonic() + retry_for
    while True:
        start = time.monotonic()
        try:
            with OPENER.open(request, timeout=15) as response:
                status, body = response.status, response.read()
            break
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
            break
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as error:
            if time.monotonic() >= deadline:
                fail(f"{method} {path}: no answer from {BASE}: {error}")
            time.sleep(0.5)
    elapsed_ms = (time.monotonic() - start) * 1000
    text = body.decode("utf-8", "replace")
    if status != expect:
        fail(f"{method} {path}: expected {expect}, got {status}: {text[:2000]}")
    try:
        document = json.loads(text)
    except ValueError:
        fail(f"{method} {path}: {status} but not JSON: {text[:500]}")
    print(f"compose-smoke:   ok {method} {path} -> {status} ({elapsed_ms:.0f} ms)", file=sys.stderr)
    return document


ready = call("GET", "/health/ready", expect=200, retry_for=20)
if ready.get("status") != "ok":
    fail(f"/health/ready: status is {ready.get('status')!r}, not 'ok': {json.dumps(ready)}")
print(f"compose-smoke:      {json.dumps(ready)}", file=sys.stderr)

slug = f"smoke-{secrets.token_hex(4)}"
email = f"owner@{slug}.example.com"
password = secrets.token_urlsafe(24)
signup = call(
    "POST",
    "/api/v1/tenants",
    expect=201,
    json_body={
        "name": "Smoke Test",
        "slug": slug,
        "email": email,
        "password": password,
        "full_name": "Smoke Owner",
    },
)
tenant_slug = (signup.get("tenant") or {}).get("slug")
owner_email = str((signup.get("owner") or {}).get("email", ""))
if tenant_slug != slug or owner_email.lower() != email:
    fail(f"signup answered another tenant or owner: {json.dumps(signup)}")
print(f"compose-smoke:      tenant {slug}, owner {email}", file=sys.stderr)

token = call(
    "POST",
    "/api/v1/auth/token",
    expect=200,
    form={"username": email, "password": password},
    headers={"X-Tenant": slug},
)
access_token = token.get("access_token")
if not isinstance(access_token, str) or not access_token:
    fail(f"/api/v1/auth/token: no access_token in {sorted(token)}")

me = call(
    "GET", "/api/v1/users/me", expect=200, headers={"Authorization": f"Bearer {access_token}"}
)
if str(me.get("email", "")).lower() != email:
    fail(f"/api/v1/users/me: expected {email}, got {json.dumps(me)}")
print(f"compose-smoke:      /users/me is {me['email']}", file=sys.stderr)

# Sent twice under one key: the second is the first's answer replayed (without the key, a 409).
member = {
    "email": f"member@{slug}.example.com",
    "password": secrets.token_urlsafe(24),
    "full_name": "Smoke Member",
    "role": "member",
}
keyed = {"Authorization": f"Bearer {access_token}", "Idempotency-Key": slug}
added = [
    call("POST", "/api/v1/users", expect=201, json_body=member, headers=keyed) for _ in range(2)
]
if added[1].get("id") != added[0].get("id"):
    fail(f"the Idempotency-Key was not replayed: {json.dumps(added)}")
print(f"compose-smoke:      user {added[0]['id']}", file=sys.stderr)
print(me["tenant_id"], added[0]["id"])
EOF
}

# The user's event, end to end: the api wrote it to the outbox in the user's transaction; the
# worker must publish it to the tenant's Redis stream and mark the outbox row sent.
event_relayed() {
  local tenant user stream sent tries=0
  read -r tenant user <"$TMP/created"
  [ -n "$tenant" ] && [ -n "$user" ] || die "http_checks did not name the user it added"
  local query="SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL
    AND type = 'user.created' AND data->>'user_id' = '$user'"
  while :; do
    stream=$("${DC[@]}" exec -T redis redis-cli XRANGE "events:$tenant" - +)
    # $POSTGRES_USER and $POSTGRES_DB: the db container's own, expanded there
    sent=$("${DC[@]}" exec -T db sh -c 'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "$1"' \
      psql "$query" | tr -d '[:space:]')
    if [[ $stream == *user.created* && $stream == *"$user"* && $sent == 1 ]]; then
      log "events:$tenant holds user.created for user $user; its outbox row is sent"
      return 0
    fi
    [ "$tries" -lt 60 ] ||
      die "user.created of $user not relayed in 30 s (stream: ${stream:-empty}; sent: $sent)"
    tries=$((tries + 1))
    sleep 0.5
  done
}

check_not_root() {
  local svc uid pid1
  for svc in api worker; do
    uid=$("${DC[@]}" exec -T "$svc" id -u | tr -d '[:space:]')
    # The service's process itself (PID 1: uvicorn, the worker), not only what `exec` runs as.
    pid1=$("${DC[@]}" exec -T "$svc" sh -c 'sed -n "s/^Uid:[[:space:]]*//p" /proc/1/status' |
      tr -s '[:space:]' ' ')
    log "$svc: exec id -u = $uid; PID 1 uids (real effective saved fs) = $pid1"
    [[ $uid =~ ^[0-9]+$ ]] || die "$svc: unexpected id -u output: $uid"
    [ "$uid" -ne 0 ] || die "$svc runs as root (id -u = 0)"
    for u in $pid1; do [ "$u" -ne 0 ] || die "$svc's PID 1 has a root uid ($pid1)"; done
  done
}

report_versions() {
  local img label
  for img in $("${DC[@]}" config --images | sort -u); do
    label=$(docker image inspect -f "{{index .Config.Labels \"$STANDIN_LABEL\"}}" "$img" 2>/dev/null)
    case $label in
      "") log "image $img: not an offline-docker stand-in" ;;
      "$img") log "image $img: STAND-IN (Debian-built, not upstream)" ;;
      *) log "image $img: built on the stand-in $label" ;;
    esac
  done
  log "versions: PostgreSQL $("${DC[@]}" exec -T db postgres --version | sed -n 's/.*(PostgreSQL) \([^ ]*\).*/\1/p')," \
    "Redis $("${DC[@]}" exec -T redis redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')," \
    "$("${DC[@]}" exec -T api python --version)"
}

# demo:begin
admin_cli() {
  # The admin CLI runs in the stack as the README shows it (a one-off api container).
  local second
  "${DC[@]}" run --rm --no-deps -T api python -m app.cli seed-demo --tasks 50 >&2
  second=$("${DC[@]}" run --rm --no-deps -T api python -m app.cli seed-demo --tasks 50 2>&1)
  printf '%s\n' "$second" >&2
  case $second in
    *"created: nothing"*) ;;
    *) die "seed-demo is not idempotent in the stack" ;;
  esac
}
# demo:end

step "build images" build_images
step "up -d --wait (db, redis, migrate, api on port $API_PORT, worker)" stack_up
step "migrate exited 0, api and worker healthy" check_containers
step "api and worker do not run as root" check_not_root
step "images and versions" report_versions
step "HTTP: ready, signup, login, /users/me, a user added with an Idempotency-Key" http_checks
step "user.created relayed by the worker (outbox to Redis stream)" event_relayed
# demo:begin
step "admin CLI in the stack: seed-demo twice" admin_cli
# demo:end
