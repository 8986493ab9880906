#!/usr/bin/env bash
# Make sure the servers the test suite needs are reachable, before pytest starts (`make test`).
#
#   PostgreSQL at TEST_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/dependable_test)
#   Redis      at TEST_REDIS_URL    (default redis://127.0.0.1:6379/15)
#
# Both answer: exit 0, silently. One is missing and a Docker engine is reachable: start the missing
# ones from docker-compose.yml + docker-compose.test.yml (published on the expected host ports),
# wait until they are healthy, exit 0. Otherwise: exit 1, naming what is missing and how to start it.
# Only TCP is checked (no psql or redis-cli needed); authentication errors surface in the tests.
set -euo pipefail

cd "$(dirname "$0")/.."

DEFAULT_DB_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/dependable_test"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379/15"
DB_URL=${TEST_DATABASE_URL:-$DEFAULT_DB_URL}
REDIS_URL=${TEST_REDIS_URL:-$DEFAULT_REDIS_URL}

# host port of a URL, defaults filled in.
endpoint() { # URL DEFAULT_PORT
  python3 - "$1" "$2" <<'EOF'
import sys
from urllib.parse import urlsplit

parts = urlsplit(sys.argv[1])
print(parts.hostname or "127.0.0.1", parts.port or int(sys.argv[2]))
EOF
}

# Exit status 0 when HOST:PORT accepts a TCP connection within a second.
answers() { # HOST PORT
  python3 - "$1" "$2" <<'EOF'
import socket
import sys

try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
EOF
}

is_local() { # HOST
  case $1 in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac
}

read -r DB_HOST DB_PORT < <(endpoint "$DB_URL" 5432)
read -r REDIS_HOST REDIS_PORT < <(endpoint "$REDIS_URL" 6379)

missing=()
answers "$DB_HOST" "$DB_PORT" || missing+=(db)
answers "$REDIS_HOST" "$REDIS_PORT" || missing+=(redis)
[ "${#missing[@]}" -eq 0 ] && exit 0

describe() { # SERVICE
  case $1 in
    db) echo "PostgreSQL at $DB_HOST:$DB_PORT (TEST_DATABASE_URL)" ;;
    redis) echo "Redis at $REDIS_HOST:$REDIS_PORT (TEST_REDIS_URL)" ;;
  esac
}

# Containers can stand in only for servers expected on this machine.
all_local=true
for svc in "${missing[@]}"; do
  case $svc in
    db) is_local "$DB_HOST" || all_local=false ;;
    redis) is_local "$REDIS_HOST" || all_local=false ;;
  esac
done

if $all_local && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  for svc in "${missing[@]}"; do echo "check-services: $(describe "$svc") is not answering." >&2; done
  echo "check-services: starting ${missing[*]} with Docker Compose (project dependable-test)..." >&2
  export TEST_PG_PORT=$DB_PORT TEST_REDIS_PORT=$REDIS_PORT
  docker compose -f docker-compose.yml -f docker-compose.test.yml \
    up -d --wait --wait-timeout 120 "${missing[@]}" >&2
  still=()
  for svc in "${missing[@]}"; do
    case $svc in
      db) answers "$DB_HOST" "$DB_PORT" || still+=("$svc") ;;
      redis) answers "$REDIS_HOST" "$REDIS_PORT" || still+=("$svc") ;;
    esac
  done
  if [ "${#still[@]}" -eq 0 ]; then
    echo "check-services: ready. Stop them with:" \
      "docker compose -f docker-compose.yml -f docker-compose.test.yml down" >&2
    exit 0
  fi
  missing=("${still[@]}")
  echo "check-services: the containers started but still do not answer." >&2
fi

ports_env=""
[ "$DB_PORT" = 5432 ] || ports_env+="TEST_PG_PORT=$DB_PORT "
[ "$REDIS_PORT" = 6379 ] || ports_env+="TEST_REDIS_PORT=$REDIS_PORT "
{
  echo "check-services: the test suite needs servers that are not answering:"
  for svc in "${missing[@]}"; do echo "  - $(describe "$svc")"; done
  echo
  echo "Start them in one of these ways:"
  echo "  * With Docker (published on 127.0.0.1; PostgreSQL user postgres with trust auth):"
  echo "      ${ports_env}docker compose -f docker-compose.yml -f docker-compose.test.yml up -d --wait ${missing[*]}"
  echo "  * With local Debian/Ubuntu packages (then create the role/database if needed):"
  echo "      sudo apt-get install -y postgresql redis-server"
  echo "      sudo pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
  echo "      redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --save '' --appendonly no"
  echo "  * Or point TEST_DATABASE_URL / TEST_REDIS_URL at servers you already have."
} >&2
exit 1
