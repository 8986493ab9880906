"""Schemathesis hooks for tests/contract/test_schemathesis.py (loaded by the CLI through
SCHEMATHESIS_HOOKS): every request is authenticated as an owner, and names that owner's tenant.

`POST /auth/logout` ends the session of the token it is sent with, so it gets a token of its
own each time; every other operation shares one, renewed every minute. The fuzzer may lock the
seeded owner out: it can promote a user it created to owner and then deactivate or demote the
seeded one (all allowed: another owner remains). Then a new tenant is signed up and used.

Each valid `Idempotency-Key` the fuzzer generates for a create is replaced by a fresh one
(`before_call`).
"""

import itertools
import os
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import schemathesis

BASE_URL = os.environ.get("CONTRACT_BASE_URL", "")
LOGOUT = "/api/v1/auth/logout"
IDEMPOTENCY_KEY = "idempotency-key"
KEY_LENGTHS = range(1, 256)  # what the document allows (app/idempotency/dependencies.py)


@dataclass
class Owner:
    tenant: str
    email: str
    password: str


current = Owner(
    os.environ.get("CONTRACT_TENANT", ""),
    os.environ.get("CONTRACT_EMAIL", ""),
    os.environ.get("CONTRACT_PASSWORD", ""),
)
replacements = itertools.count(1)


def log_in(owner: Owner) -> httpx.Response:
    return httpx.post(
        f"{BASE_URL}/api/v1/auth/token",
        headers={"X-Tenant": owner.tenant},
        data={"username": owner.email, "password": owner.password},
        timeout=10,
    )


def sign_up_another() -> Owner:
    n = next(replacements)
    owner = Owner(f"contract-{n}", f"owner{n}@contract.example.com", current.password)
    response = httpx.post(
        f"{BASE_URL}/api/v1/tenants",
        json={
            "name": f"Contract {n}",
            "slug": owner.tenant,
            "email": owner.email,
            "password": owner.password,
            "full_name": "Contract Owner",
        },
        timeout=10,
    )
    response.raise_for_status()
    return owner


def token() -> tuple[str, str]:
    """An access token of an owner, and the owner's tenant."""
    global current
    response = log_in(current)
    if response.status_code == 401:  # the fuzzer deactivated the owner: start another tenant
        current = sign_up_another()
        response = log_in(current)
    response.raise_for_status()
    return str(response.json()["access_token"]), current.tenant


def authenticate(case: Any, data: tuple[str, str]) -> None:
    access, tenant = data
    case.headers = {
        **(case.headers or {}),
        "Authorization": f"Bearer {access}",
        "X-Tenant": tenant,
    }


@schemathesis.auth(refresh_interval=None).apply_to(path=LOGOUT)
class EachLogoutItsOwnSession:
    def get(self, case: Any, context: Any) -> tuple[str, str]:
        return token()

    def set(self, case: Any, data: tuple[str, str], context: Any) -> None:
        authenticate(case, data)


@schemathesis.auth(refresh_interval=60).skip_for(path=LOGOUT)
class TheOwner:
    def get(self, case: Any, context: Any) -> tuple[str, str]:
        return token()

    def set(self, case: Any, data: tuple[str, str], context: Any) -> None:
        authenticate(case, data)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """A fresh `Idempotency-Key` in place of each valid one generated for a create. The fuzzer
    repeats simple values (267 of 290 keys were "0"), so two creates with one key and one body
    happen by chance, and the second is the first's answer replayed, as the key promises: once
    that resource has been deleted, the stateful phase reads the replay as a created resource
    gone missing (ST302, seen in CI). A key used twice is proven in tests/idempotency; a key the
    document refuses (empty, over 255 characters) is sent as generated."""
    if case.operation.method.upper() != "POST":
        return
    headers = dict(case.headers or {})
    for name, value in headers.items():
        if name.lower() == IDEMPOTENCY_KEY and isinstance(value, str) and len(value) in KEY_LENGTHS:
            headers[name] = uuid.uuid4().hex
            case.headers = headers
            return
