"""Root conftest: loads the fixtures. The test harness talks to real PostgreSQL and Redis."""

import os

# Tests build their own apps from explicit settings; code that reads settings from the
# environment (the CLI, `create_app()` without arguments) sees APP_ENV=test unless told otherwise.
os.environ.setdefault("APP_ENV", "test")

pytest_plugins = [
    "tests.fixtures.settings",
    "tests.fixtures.database",
    "tests.fixtures.redis",
    "tests.fixtures.redis_server",
    "tests.fixtures.app",
    "tests.fixtures.auth",
    "tests.fixtures.orgs",
    "tests.fixtures.committed",
    "tests.fixtures.outbox",
    "tests.fixtures.worker",
    "tests.fixtures.replica",
]
