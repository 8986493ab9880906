"""What tests/e2e/test_graceful_shutdown.py serves: the real app (settings from the environment
the test sets) plus a slow route that exists only here, never in the product.

    uvicorn tests.e2e.slow_app:create --factory
"""

import asyncio
import warnings

import structlog
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app

SLOW_SECONDS = 2.0
STARTED_EVENT = "slow request started"
STARTUP_WARNING = "a warning raised while the app starts"

log = structlog.get_logger("app.e2e")


def create() -> FastAPI:
    app = create_app(Settings(_env_file=None))  # the environment only, never a local .env

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        """Answers after SLOW_SECONDS; logs when it starts so the test knows it is in flight."""
        log.info(STARTED_EVENT)
        await asyncio.sleep(SLOW_SECONDS)
        return {"status": "done"}

    # Python warnings go through the same formatter as every other line.
    warnings.warn(STARTUP_WARNING, UserWarning, stacklevel=1)
    return app
