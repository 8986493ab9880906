"""Faults with real servers: the app under test runs with its own lifespan (its own engine and
Redis pool, committing for real, as in production), and what it creates is deleted afterwards
through an owner connection (deleting a tenant cascades to its users, tokens, every row it owns and
idempotency keys). A test that breaks something breaks only what it owns: a redis-server of its
own (tests/fixtures/redis_server.py), its app's connections, a role of its own.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from jose import jwt
from sqlalchemy import NullPool, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.core.config import Settings
from app.main import create_app
from tests.fixtures.auth import bearer
from tests.fixtures.factories import signup_body

PASSWORD = "correct horse battery staple"


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    """An app of its own, built from `settings`, inside its real lifespan, and a client of it."""
    app = create_app(settings)
    transport = ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield app, client


@pytest.fixture
async def owner(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The tables' owner (row-level security does not bind it): to arrange, check and clean up."""
    engine = create_async_engine(settings.database.owner_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@dataclass
class Account:
    slug: str
    email: str


class Tenants:
    """Tenants a test signs up over HTTP; every one is deleted when the test ends."""

    def __init__(self) -> None:
        self.slugs: list[str] = []

    def new(self) -> dict[str, Any]:
        """A signup body for a new tenant (deleted at the end, whether the signup worked or not)."""
        slug = f"fault-{uuid.uuid4().hex[:12]}"
        self.slugs.append(slug)
        email = f"owner@{slug}.example.com"
        return signup_body(slug=slug, email=email, password=PASSWORD, name="Faults")

    async def sign_up(self, client: AsyncClient) -> Account:
        body = self.new()
        response = await client.post("/api/v1/tenants", json=body)
        assert response.status_code == 201, response.text
        return Account(slug=body["slug"], email=body["email"])


@pytest.fixture
async def tenants(owner: AsyncEngine) -> AsyncIterator[Tenants]:
    made = Tenants()
    yield made
    async with owner.begin() as connection:
        await connection.execute(text("SET LOCAL lock_timeout = '5s'"))  # fail, never hang
        await connection.execute(
            text("DELETE FROM tenants WHERE slug = ANY(:slugs)"), {"slugs": made.slugs}
        )


async def log_in(client: AsyncClient, account: Account) -> Response:
    """A real login of `account`'s owner (a new session)."""
    return await client.post(
        "/api/v1/auth/token",
        data={"username": account.email, "password": PASSWORD},
        headers={"X-Tenant": account.slug},
    )


@dataclass
class Session:
    """The tokens of one login (one refresh family)."""

    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)

    @property
    def family(self) -> uuid.UUID:
        return uuid.UUID(jwt.get_unverified_claims(self.access_token)["fam"])


async def new_session(client: AsyncClient, account: Account) -> Session:
    """A new session of `account`'s owner."""
    response = await log_in(client, account)
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Session(tokens["access_token"], tokens["refresh_token"])
