"""Root conftest: loads the fixtures. The test harness talks to real PostgreSQL and Redis."""

import os

# Importing app.main builds the module-level app from the environment; a test run is APP_ENV=test
# unless the caller says otherwise. Tests build their own apps from explicit settings.
os.environ.setdefault("APP_ENV", "test")

pytest_plugins = [
    "tests.fixtures.settings",
    "tests.fixtures.database",
    "tests.fixtures.redis",
    "tests.fixtures.app",
    "tests.fixtures.auth",
    "tests.fixtures.committed",
]
