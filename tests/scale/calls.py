"""Calls through the balancer that the scale checks share: accounts, and one request per
replica (`on_every_replica`)."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import httpx

from tests.fixtures.nginx import UPSTREAM

REPLICAS = 3
PASSWORD = "a scale-test passphrase"


@dataclass(frozen=True)
class Account:
    slug: str
    email: str
    user_id: str
    access: str = ""
    refresh: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


async def sign_up(client: httpx.AsyncClient) -> Account:
    """A new tenant and its owner, not logged in (a login counts against the login limit)."""
    slug = f"scale-{uuid.uuid4().hex[:12]}"
    email = f"owner@{slug}.example"
    response = await client.post(
        "/api/v1/tenants",
        json={
            "name": "Scale",
            "slug": slug,
            "email": email,
            "password": PASSWORD,
            "full_name": "O",
        },
    )
    assert response.status_code == 201, response.text
    return Account(slug, email, response.json()["owner"]["id"])


async def log_in(client: httpx.AsyncClient, account: Account) -> Account:
    response = await attempt_login(client, account, PASSWORD)
    assert response.status_code == 200, response.text
    tokens = response.json()
    return replace(account, access=tokens["access_token"], refresh=tokens["refresh_token"])


def attempt_login(
    client: httpx.AsyncClient, account: Account, password: str
) -> Awaitable[httpx.Response]:
    return client.post(
        "/api/v1/auth/token",
        headers={"X-Tenant": account.slug},
        data={"username": account.email, "password": password},
    )


async def owner_of_a_new_tenant(client: httpx.AsyncClient) -> Account:
    return await log_in(client, await sign_up(client))


def add_member(
    client: httpx.AsyncClient,
    account: Account,
    email: str,
    headers: dict[str, str] | None = None,
) -> Awaitable[httpx.Response]:
    """POST /api/v1/users as `account`: a member of its tenant with `email` and PASSWORD
    (`headers`, the account's by default, may add an Idempotency-Key)."""
    body = {"email": email, "password": PASSWORD, "full_name": "M", "role": "member"}
    return client.post("/api/v1/users", json=body, headers=headers or account.auth)


async def on_every_replica(
    send: Callable[[], Awaitable[httpx.Response]],
) -> list[httpx.Response]:
    """`send` once per replica: consecutive requests through the round-robin balancer, each
    answered by another replica (checked, or the check proves nothing)."""
    responses = [await send() for _ in range(REPLICAS)]
    assert len(upstreams(responses)) == REPLICAS, upstreams(responses)
    return responses


def upstreams(responses: list[httpx.Response]) -> set[str]:
    return {response.headers[UPSTREAM] for response in responses}


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


# demo:begin
async def create_project(client: httpx.AsyncClient, account: Account, name: str) -> str:
    response = await client.post("/api/v1/projects", json={"name": name}, headers=account.auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# demo:end
