#!/usr/bin/env bash
# `make template-check` (CI's "template" phase): the copier template renders projects that pass
# their own quality bar.
#
# Renders this repository (copier.yml) into a temporary folder twice, from the working tree as
# git sees it (copier includes a local template's uncommitted and untracked, not ignored, files;
# on a clean clone that is HEAD):
#   (a) defaults;
#   (b) project_name="Invoice Hub", include_demo=false, then `make domain` for a resource with
#       three fields (payment: title:str due:date amount:int; not `invoice`, `line_item` or
#       `receipt`, the names the generator's own tests generate in a copy of the project).
#       In (b), scripts/template/demo_words.sh also lists the demo's words left in app/,
#       migrations/ and tests/ and fails on any that is not a generic use.
# In each: git init and a first commit (as a developer would), `uv sync --locked`, ruff check,
# ruff format --check, lint-imports, mypy --strict app tests, and `make test` (the whole suite,
# with CI=true when set) against its own freshly named databases and Redis database. (a) and (b)
# run side by side: their suites are partly waiting on PostgreSQL, Redis and subprocesses, and
# every port the suite starts a server on is picked free. Timings are printed per part; any
# failure fails the check (after both finish) and leaves the logs in the output.
# Beside them, (c) checks `copier update`: a project rendered (as (b)) from a clone of HEAD, with a
# change of its own committed, is updated to a later commit of that clone that edits a line
# holding the name; the change must arrive renamed, the project's own change and its .env stay,
# and nothing conflicts.
#
# Variables: TEMPLATE_CHECK_REDIS_DBS (two Redis logical databases, default "13 14"; the main
# suite uses 15), TEMPLATE_CHECK_KEEP=1 (keep the rendered folders), PGHOST_URL (owner
# connection base, default postgresql+asyncpg://postgres@127.0.0.1:5432).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
export UV_PYTHON_DOWNLOADS=${UV_PYTHON_DOWNLOADS:-never}
export UV_NO_PROGRESS=1
read -r REDIS_A REDIS_B <<<"${TEMPLATE_CHECK_REDIS_DBS:-13 14}"
OWNER_BASE=${PGHOST_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432}
RUN_ID=$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/template-check.XXXXXX")

cleanup() {
  local status=$?
  # Each suite's database and those its tests derive from the name (<database>_migrations...).
  if [ -n "${DATABASES:-}" ] && command -v psql >/dev/null; then
    for database in $DATABASES; do
      psql -qAt -h 127.0.0.1 -U postgres -d postgres -c "SELECT datname FROM pg_database
        WHERE datname = '$database' OR datname LIKE '${database}\_%'" 2>/dev/null |
        while read -r name; do
          psql -q -h 127.0.0.1 -U postgres -d postgres \
            -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
        done
    done
  fi
  if [ "${TEMPLATE_CHECK_KEEP:-}" = 1 ]; then
    echo "rendered projects kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
# Stopped (CI stops it when its run ends first): clean up all the same.
trap 'exit 143' TERM INT

now() { date +%s; }

step() { # LABEL COMMAND...: run, print how long it took; a failure stops the project's run
  local label=$1 start rc=0
  shift
  start=$(now)
  echo "--- $label"
  "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "=== $label: FAILED (exit $rc) after $(($(now) - start))s"
    return "$rc"
  fi
  echo "=== $label: ok in $(($(now) - start))s"
}

render() { # DEST COPIER-ARGUMENTS...: from this repository
  render_from "$REPO" "$@"
}

render_from() { # TEMPLATE DEST COPIER-ARGUMENTS...
  local template=$1 dest=$2
  shift 2
  (cd "$REPO" && uv run --locked copier copy --quiet --trust --defaults "$@" "$template" "$dest")
}

first_commit() {
  git -C "$1" init -q -b main
  git -C "$1" add -A
  git -C "$1" -c user.name=template-check -c user.email=template-check@invalid \
    commit -q -m "Rendered by make template-check"
}

quality_bar() { # PROJECT SLUG DATABASE REDIS_DB
  local dir=$1 slug=$2 database=$3 redis_db=$4
  cd "$dir"
  # The project's own virtual environment (uv links from its cache: a second or two).
  unset VIRTUAL_ENV
  export TEST_DATABASE_URL="postgresql+asyncpg://${slug}_api:${slug}_api@127.0.0.1:5432/$database"
  export TEST_DATABASE_OWNER_URL="$OWNER_BASE/$database"
  export TEST_REDIS_URL="redis://127.0.0.1:6379/$redis_db"
  echo "databases: $database; Redis: db $redis_db"
  step "uv sync --locked" uv sync --locked --quiet
  step "ruff check" uv run --locked ruff check .
  step "ruff format --check" uv run --locked ruff format --check .
  step "lint-imports" uv run --locked lint-imports --no-logo --no-cache
  step "mypy --strict app tests" uv run --locked mypy --strict app tests
  step "tests (make test)" make test PYTEST_ARGS="-q -p no:cacheprovider"
}

project_a() {
  local start
  start=$(now)
  step "render (a): defaults" render "$WORK/a"
  step "git init (a)" first_commit "$WORK/a"
  quality_bar "$WORK/a" dependable "$DATABASE_A" "$REDIS_A"
  echo "=== (a) total: $(($(now) - start))s"
}

project_b() {
  local start
  start=$(now)
  step "render (b): Invoice Hub, no demo" \
    render "$WORK/b" -d project_name="Invoice Hub" -d include_demo=false
  step "git init (b)" first_commit "$WORK/b"
  (
    cd "$WORK/b"
    unset VIRTUAL_ENV
    step "uv sync --locked" uv sync --locked --quiet
    step "make domain name=payment fields=\"title:str due:date amount:int\"" \
      make domain name=payment fields="title:str due:date amount:int"
  )
  echo "--- the new domain's files"
  git -C "$WORK/b" add -A
  git -C "$WORK/b" status --short
  step "the demo's words left in app/, migrations/ and tests/ (only generic uses)" \
    bash "$REPO/scripts/template/demo_words.sh" "$WORK/b"
  quality_bar "$WORK/b" invoice_hub "$DATABASE_B" "$REDIS_B"
  echo "=== (b) total: $(($(now) - start))s"
}

# Fresh names: a database per run and project (the suite creates it, this script drops it).
DATABASE_A="dependable_tpl_${RUN_ID}"
DATABASE_B="invoice_hub_test_${RUN_ID}"
DATABASES="$DATABASE_A $DATABASE_B"

project_c() { # `copier update` brings a later template commit into a project, keeping its changes
  local start template=$WORK/c-template project=$WORK/c env_sum
  start=$(now)
  git clone -q "$REPO" "$template"
  step "render (c): Invoice Hub, no demo, from a clone of HEAD" \
    render_from "$template" "$project" -d project_name="Invoice Hub" -d include_demo=false
  first_commit "$project"
  env_sum=$(sha256sum "$project/.env")
  # The developer's change, and a later template commit touching a line that holds the name.
  echo "# the developer's own line" >>"$project/Makefile"
  git -C "$project" -c user.name=template-check -c user.email=template-check@invalid \
    commit -q -am "A change of the project's own"
  sed -i '1s/^# Local stack:/# Local stack of dependable:/' "$template/docker-compose.yml"
  git -C "$template" -c user.name=template-check -c user.email=template-check@invalid \
    commit -q -am "A later template change"
  step "copier update (c)" \
    bash -c "cd '$project' && uv run --project '$REPO' --locked copier update --quiet --trust --defaults"
  check_update() {
    head -1 "$project/docker-compose.yml" | grep -q '^# Local stack of invoice_hub:' ||
      { echo "the template's change did not arrive (renamed)"; return 1; }
    tail -1 "$project/Makefile" | grep -q "^# the developer's own line$" ||
      { echo "the developer's change was lost"; return 1; }
    [ "$(sha256sum "$project/.env")" = "$env_sum" ] || { echo ".env was rewritten"; return 1; }
    if git -C "$project" status --porcelain --ignored | grep '\.rej$'; then
      echo "rejected hunks"; return 1
    fi
    if git -C "$project" grep -n -e '^<<<<<<< ' -e '^>>>>>>> '; then
      echo "conflict markers"; return 1
    fi
    git -C "$project" status --short
  }
  step "the update kept the project's change and brought the template's" check_update
  echo "=== (c) total: $(($(now) - start))s"
}
START=$(now)
(cd "$REPO" && uv sync --locked --quiet)  # copier, from this repository's dev dependencies
echo "template-check: rendering into $WORK; (a), (b) and (c) run side by side, each logged whole"
(set -e; project_a) >"$WORK/a.log" 2>&1 &
PID_A=$!
(set -e; project_b) >"$WORK/b.log" 2>&1 &
PID_B=$!
(set -e; project_c) >"$WORK/c.log" 2>&1 &
PID_C=$!
RC_A=0
RC_B=0
RC_C=0
wait "$PID_A" || RC_A=$?
wait "$PID_B" || RC_B=$?
wait "$PID_C" || RC_C=$?

for project in a b c; do
  echo
  echo "######## ($project)"
  cat "$WORK/$project.log"
done
echo
verdict() { [ "$1" = 0 ] && echo ok || echo "FAILED ($1)"; }
echo "template-check: (a) $(verdict "$RC_A"), (b) $(verdict "$RC_B")," \
  "(c) update $(verdict "$RC_C"), in $(($(now) - START))s"
[ "$RC_A" = 0 ] && [ "$RC_B" = 0 ] && [ "$RC_C" = 0 ]
