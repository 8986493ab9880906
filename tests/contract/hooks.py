"""Schemathesis hooks for tests/contract/test_schemathesis.py (loaded by the CLI through
SCHEMATHESIS_HOOKS): every request is authenticated as the seeded owner of the contract's tenant.

`POST /auth/logout` ends the session of the token it is sent with, so it gets a token of its
own each time; every other operation shares one, renewed every minute.
"""

import os
from typing import Any

import httpx
import schemathesis

BASE_URL = os.environ.get("CONTRACT_BASE_URL", "")
TENANT = os.environ.get("CONTRACT_TENANT", "")
EMAIL = os.environ.get("CONTRACT_EMAIL", "")
PASSWORD = os.environ.get("CONTRACT_PASSWORD", "")
LOGOUT = "/api/v1/auth/logout"


def log_in() -> str:
    response = httpx.post(
        f"{BASE_URL}/api/v1/auth/token",
        headers={"X-Tenant": TENANT},
        data={"username": EMAIL, "password": PASSWORD},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def authenticate(case: Any, token: str) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@schemathesis.auth(refresh_interval=None).apply_to(path=LOGOUT)
class EachLogoutItsOwnSession:
    def get(self, case: Any, context: Any) -> str:
        return log_in()

    def set(self, case: Any, data: str, context: Any) -> None:
        authenticate(case, data)


@schemathesis.auth(refresh_interval=60).skip_for(path=LOGOUT)
class TheOwner:
    def get(self, case: Any, context: Any) -> str:
        return log_in()

    def set(self, case: Any, data: str, context: Any) -> None:
        authenticate(case, data)
