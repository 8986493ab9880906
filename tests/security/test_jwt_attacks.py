"""Forged, tampered, incomplete and revoked access tokens: every one is refused with a
problem+json 401 (or 403 for a valid token used against another tenant)."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from jose import jwt
from pydantic import SecretStr

from app.core.config import AuthSettings, Settings
from app.core.db import SessionFactory
from app.core.security import JWTCodec
from app.core.tenancy import bind_tenant
from app.identity.models import User
from tests.fixtures.app import use_resources
from tests.fixtures.auth import PASSWORD, Org, bearer
from tests.fixtures.paths import LOGOUT, ME
from tests.fixtures.problems import assert_problem
from tests.fixtures.secrets import rs256_settings


def claims_for(org: Org, **overrides: Any) -> dict[str, Any]:
    user = org.member.user
    now = int(time.time())
    claims = {
        "iss": "dependable",
        "aud": "dependable-api",
        "sub": str(user.id),
        "tid": str(org.tenant.id),
        "role": user.role.value,
        "jti": uuid.uuid4().hex,
        "fam": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(settings: Settings, claims: dict[str, Any], *, key: str | None = None, **kw: Any) -> str:
    secret = key or settings.auth.secret_key.get_secret_value()
    headers = kw.pop("headers", {"kid": settings.auth.key_id})
    token: str = jwt.encode(claims, secret, algorithm=kw.pop("algorithm", "HS256"), headers=headers)
    return token


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def call(client: AsyncClient, token: str, **headers: str) -> Response:
    return await client.get(ME, headers={**bearer(token), **headers})


async def test_the_baseline_token_is_accepted(
    client: AsyncClient, acme: Org, settings: Settings
) -> None:
    """The forgeries below differ from this valid token in one respect each."""
    assert (await call(client, sign(settings, claims_for(acme)))).status_code == 200


async def test_alg_none_is_refused(client: AsyncClient, acme: Org) -> None:
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims_for(acme))}."
    assert_problem(await call(client, token), 401)


async def test_signed_with_another_key(client: AsyncClient, acme: Org, settings: Settings) -> None:
    token = sign(settings, claims_for(acme), key="an-attacker-key-that-is-long-enough-000")
    assert_problem(await call(client, token), 401)


async def test_unknown_kid(client: AsyncClient, acme: Org, settings: Settings) -> None:
    token = sign(settings, claims_for(acme), headers={"kid": "k-unknown"})
    assert_problem(await call(client, token), 401)


@pytest.mark.parametrize("claim", ["exp", "aud", "iss", "sub", "tid", "jti", "role", "iat", "fam"])
async def test_missing_claim(
    client: AsyncClient, acme: Org, settings: Settings, claim: str
) -> None:
    token = sign(settings, claims_for(acme, **{claim: None}))
    assert_problem(await call(client, token), 401)


async def test_expired(client: AsyncClient, acme: Org, settings: Settings) -> None:
    past = int(time.time()) - 3600
    token = sign(settings, claims_for(acme, iat=past - 600, nbf=past - 600, exp=past))
    assert_problem(await call(client, token), 401)


async def test_not_yet_valid(client: AsyncClient, acme: Org, settings: Settings) -> None:
    future = int(time.time()) + 3600
    token = sign(settings, claims_for(acme, nbf=future, exp=future + 600))
    assert_problem(await call(client, token), 401)


@pytest.mark.parametrize(("claim", "value"), [("aud", "another-api"), ("iss", "someone-else")])
async def test_wrong_audience_or_issuer(
    client: AsyncClient, acme: Org, settings: Settings, claim: str, value: str
) -> None:
    token = sign(settings, claims_for(acme, **{claim: value}))
    assert_problem(await call(client, token), 401)


async def test_payload_tampered_after_signing(
    client: AsyncClient, acme: Org, settings: Settings
) -> None:
    header, _, signature = sign(settings, claims_for(acme)).split(".")
    promoted = b64(claims_for(acme, role="owner", sub=str(acme.owner.user.id)))
    assert_problem(await call(client, f"{header}.{promoted}.{signature}"), 401)


async def test_garbage(client: AsyncClient) -> None:
    for token in ["", "not-a-jwt", "a.b.c", "Bearer", "x" * 5000]:
        assert_problem(await call(client, token), 401)


async def test_rs_hs_confusion_when_rs256_is_configured(
    app: FastAPI, client: AsyncClient, acme: Org, settings: Settings
) -> None:
    rs256 = rs256_settings()
    assert rs256.private_key is not None
    assert rs256.public_key is not None
    private_pem, public_pem = rs256.private_key.get_secret_value(), rs256.public_key
    use_resources(app, jwt=JWTCodec(rs256))
    genuine = jwt.encode(claims_for(acme), private_pem, algorithm="RS256", headers={"kid": "k1"})
    assert (await call(client, genuine)).status_code == 200

    # The classic confusion: sign HS256 using the (public) verification key as the secret.
    # python-jose refuses to build such a token, so it is forged by hand.
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims_for(acme))}"
    mac = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert_problem(await call(client, forged), 401)


async def test_rotated_key_still_verifies_until_retired(
    app: FastAPI, client: AsyncClient, acme: Org, settings: Settings
) -> None:
    old = settings.auth.secret_key.get_secret_value()
    token = sign(settings, claims_for(acme))
    rotated = AuthSettings(
        secret_key=SecretStr("a-brand-new-secret-key-of-enough-length-42"),
        key_id="k2",
        previous_keys={"k1": SecretStr(old)},
    )
    use_resources(app, jwt=JWTCodec(rotated))
    assert (await call(client, token)).status_code == 200

    retired = AuthSettings(
        secret_key=SecretStr("a-brand-new-secret-key-of-enough-length-42"), key_id="k2"
    )
    use_resources(app, jwt=JWTCodec(retired))
    assert_problem(await call(client, token), 401)


async def _deactivate_or_delete(factory: SessionFactory, org: Org, *, delete: bool) -> None:
    async with factory() as session:
        await bind_tenant(session, org.tenant.id)
        user = await session.get(User, org.member.user.id)
        assert user is not None
        if delete:
            await session.delete(user)
        else:
            user.is_active = False
        await session.commit()


@pytest.mark.parametrize("delete", [False, True], ids=["deactivated", "deleted"])
async def test_token_of_a_deactivated_or_deleted_user(
    client: AsyncClient, acme: Org, session_factory: SessionFactory, delete: bool
) -> None:
    await _deactivate_or_delete(session_factory, acme, delete=delete)
    assert_problem(await call(client, acme.member.token), 401)


async def test_tid_of_another_tenant_with_a_user_of_this_one(
    client: AsyncClient, acme: Org, globex: Org, settings: Settings
) -> None:
    """A token whose tid names globex but whose sub is an acme user finds no such user."""
    token = sign(settings, claims_for(acme, tid=str(globex.tenant.id)))
    assert_problem(await call(client, token), 401)


async def test_token_used_against_another_named_tenant_is_403(
    client: AsyncClient, acme: Org, globex: Org
) -> None:
    response = await call(client, acme.member.token, **{"X-Tenant": globex.tenant.slug})
    assert assert_problem(response, 403)["type"].endswith("tenant-mismatch")


async def test_logged_out_access_token(client: AsyncClient, acme: Org) -> None:
    pair = (
        await client.post(
            "/api/v1/auth/token",
            data={"username": acme.member.user.email, "password": PASSWORD},
            headers={"X-Tenant": "acme"},
        )
    ).json()
    member = bearer(pair["access_token"])
    assert (await client.post(LOGOUT, headers=member)).status_code == 204
    assert_problem(await client.get(ME, headers=member), 401)


async def test_reused_refresh_token_and_the_rest_of_its_family(
    client: AsyncClient, acme: Org
) -> None:
    pair = (
        await client.post(
            "/api/v1/auth/token",
            data={"username": acme.member.user.email, "password": PASSWORD},
            headers={"X-Tenant": "acme"},
        )
    ).json()
    refresh = "/api/v1/auth/refresh"
    rotated = (await client.post(refresh, json={"refresh_token": pair["refresh_token"]})).json()

    assert_problem(await client.post(refresh, json={"refresh_token": pair["refresh_token"]}), 401)
    assert_problem(
        await client.post(refresh, json={"refresh_token": rotated["refresh_token"]}), 401
    )
    # The family's access tokens are denied too, not only its refresh tokens.
    denied = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert_problem(await client.get(ME, headers=denied), 401)


async def test_the_right_secret_with_another_algorithm(
    client: AsyncClient, acme: Org, settings: Settings
) -> None:
    """Even the app's own secret, used with another HMAC size, is refused: alg is pinned."""
    token = sign(settings, claims_for(acme), algorithm="HS512")
    assert_problem(await call(client, token), 401)
