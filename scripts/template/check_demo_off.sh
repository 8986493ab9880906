#!/usr/bin/env bash
# The project without the demo, proven: copy this checkout (its tracked and untracked, not
# ignored files), run scripts/template/remove_demo.py in the copy, then in the copy run what CI
# runs (ruff check, ruff format --check, lint-imports, mypy --strict app tests, the whole pytest
# suite on databases of its own) and look for the demo's words in app/, migrations/ and tests/.
#
#   make demo-off-check        # or: bash scripts/template/check_demo_off.sh [PYTEST_ARGS...]
#
# TEST_DATABASE_URL, TEST_DATABASE_OWNER_URL and TEST_REDIS_URL as for `make test` (the same
# defaults); the copy's suite runs on "<that database>_demo_off" (dropped first) and the same
# Redis database, so run it when no other suite uses that Redis database. Uses this checkout's
# .venv (`make install`). As the copier task does, it regenerates docs/dependency-graph.md in
# the copy once the demo is gone (the graph is made from the live app). Every step runs; the
# summary at the end says which failed (exit status 1 if any).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/.venv/bin"
: "${TEST_DATABASE_URL:=postgresql+asyncpg://dependable_api:dependable_api@127.0.0.1:5432/dependable_test}"
: "${TEST_DATABASE_OWNER_URL:=postgresql+asyncpg://postgres@127.0.0.1:5432/dependable_test}"
: "${TEST_REDIS_URL:=redis://127.0.0.1:6379/15}"
export TEST_REDIS_URL

COPY="$(mktemp -d -t dependable-demo-off.XXXXXX)"
trap 'rm -rf "$COPY"' EXIT
cd "$ROOT" || exit 1
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' path; do [[ -e "$path" ]] && printf '%s\0' "$path"; done \
  | tar --null -T - -cf - | tar -xf - -C "$COPY"
python3 "$COPY/scripts/template/remove_demo.py" "$COPY" || exit 1
cd "$COPY" || exit 1
# A checkout, as a generated project becomes one: the published-secrets scan reads `git ls-files`.
git init -q && git add -A || exit 1

export PYTHONPATH="$COPY"
export TEST_DATABASE_URL="${TEST_DATABASE_URL}_demo_off"
export TEST_DATABASE_OWNER_URL="${TEST_DATABASE_OWNER_URL}_demo_off"

failed=()
step() {
  local name="$1"; shift
  echo "=== $name: $*"
  if "$@"; then echo "=== $name: ok"; else echo "=== $name: FAILED"; failed+=("$name"); fi
}
fresh_databases() {
  local owner="${TEST_DATABASE_OWNER_URL/+asyncpg/}" name
  name="${owner##*/}"
  psql "${owner%/*}/postgres" -qc "DROP DATABASE IF EXISTS ${name} WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS ${name}_migrations WITH (FORCE)"
}

step remove-demo-again python3 scripts/template/remove_demo.py .
step depgraph "$BIN/python" -m app.cli depgraph --format mermaid --output docs/dependency-graph.md
step demo-words bash "$ROOT/scripts/template/demo_words.sh" .
step ruff-check "$BIN/ruff" check --no-cache .
step ruff-format "$BIN/ruff" format --check --no-cache .
step lint-imports "$BIN/lint-imports" --no-logo --no-cache
step mypy "$BIN/mypy" --strict --no-incremental app tests
step fresh-databases fresh_databases
step pytest "$BIN/python" -m pytest -q -p no:cacheprovider "$@"

echo
if [[ ${#failed[@]} -eq 0 ]]; then echo "demo-off check: all steps passed"; exit 0; fi
echo "demo-off check: FAILED: ${failed[*]}"
exit 1
