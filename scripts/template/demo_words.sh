#!/usr/bin/env bash
# The demo's words left in a project without the demo: every line of app/, migrations/ and
# tests/ that says task, project or flag (any case) is listed, as generic (a use that has nothing
# to do with the demo, each kind below with its reason) or as DEMO. Exit status 1 when any line
# is DEMO.
#
#   bash scripts/template/demo_words.sh [PROJECT_DIR]    # default: the current directory
#
# Run by scripts/template/check_demo_off.sh (`make demo-off-check`) and by
# scripts/template-check.sh on the project it renders without the demo.
set -uo pipefail

cd "${1:-.}" || exit 1

# A hit is generic when its line matches one of these:
GENERIC=(
  'pyproject|project_name_override'               # pyproject.toml; a client generator's option
  "the project's (own|ruff|Makefile)"             # this software project, its tools
  'asyncio(\.| )(create_task|ensure_future|Task|TaskGroup|task)|group\.create_task|_tasks\.py' # asyncio
  '[Bb]ackground[_ ]?[Tt]asks?|add_task'          # FastAPI's BackgroundTasks
  'is_active|active flag'                         # a boolean column, not a feature flag
  '^app/core/common_passwords\.txt:'              # a list of leaked passwords, words included
)
# ...or, for "task" alone, when its file is about background or asyncio tasks:
TASK_FILES='^tests/(di/test_(injected_response_and_background_tasks|background_tasks_run_between_the_scopes|streaming_and_late_errors|cancellation)|observability/test_access_log|http/test_background_session)\.py:'
allowed() {
  local line="$1" pattern
  for pattern in "${GENERIC[@]}"; do
    [[ "$line" =~ $pattern ]] && return 0
  done
  [[ "$line" =~ $TASK_FILES ]] && ! [[ "${line,,}" =~ project|flag ]]
}

hits=0
while IFS= read -r line; do
  if allowed "$line"; then echo "  generic: $line"; else echo "  DEMO:    $line"; hits=$((hits + 1)); fi
done < <(grep -rniE 'task|project|flag' app migrations tests --exclude-dir=__pycache__)
echo "  $hits hits that are not generic"
[[ $hits -eq 0 ]]
