"""`JWTCodec` remembers tokens it verified (app/core/security.py): a client's token is verified
once, not on every request; a remembered token is still refused once it has expired, and a
tampered copy is a different token, verified (and refused) on its own."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from app.core.config import AuthSettings
from app.core.security import AccessClaims, JWTCodec, MalformedTokenError

SECRET = "x" * 16 + uuid.uuid4().hex


def codec() -> JWTCodec:
    return JWTCodec(
        AuthSettings(secret_key=SecretStr(SECRET), access_ttl_seconds=60, leeway_seconds=5)
    )


def test_a_remembered_token_is_verified_once(monkeypatch: pytest.MonkeyPatch) -> None:
    jwt = codec()
    token = jwt.issue(
        user_id=uuid.uuid4(), tenant_id=uuid.uuid4(), role="member", family_id=uuid.uuid4()
    )
    verified: list[str] = []
    real = jwt._verify

    def remembering(token: str) -> AccessClaims:
        verified.append(token)
        return real(token)

    monkeypatch.setattr(jwt, "_verify", remembering)

    assert jwt.decode(token.token) == jwt.decode(token.token) == token.claims
    assert verified == [token.token]


def test_a_remembered_token_is_refused_after_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    jwt = codec()
    token = jwt.issue(
        user_id=uuid.uuid4(), tenant_id=uuid.uuid4(), role="member", family_id=uuid.uuid4()
    )
    jwt.decode(token.token)
    after_expiry = token.claims.expires_at.timestamp() + 5  # exp + leeway
    monkeypatch.setattr(time, "time", lambda: after_expiry)

    with pytest.raises(MalformedTokenError):
        jwt.decode(token.token)


def test_a_tampered_token_is_not_taken_from_memory() -> None:
    jwt = codec()
    token = jwt.issue(
        user_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        role="member",
        family_id=uuid.uuid4(),
        now=datetime.now(UTC) - timedelta(seconds=1),
    ).token
    jwt.decode(token)
    header, payload, signature = token.split(".")
    tampered = (
        f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    )

    with pytest.raises(MalformedTokenError):
        jwt.decode(tampered)
