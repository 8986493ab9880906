"""What tests/e2e/test_docs_browser.py serves: the real app, settings from the environment the
test sets (never a local .env).

    uvicorn tests.e2e.docs_app:create --factory
"""

from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app


def create() -> FastAPI:
    return create_app(Settings(_env_file=None))
