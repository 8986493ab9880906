"""Item 7 of issue 10: pagination cursors have their own secret in every signing mode, and a
cursor that decodes to impossible values is a 422, never a 500."""

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import ValidationError

from app.core.config import AuthSettings, Settings
from app.core.pagination import CursorCodec, InvalidCursorError, Position
from app.core.resources import Resources, open_resources
from tests.fixtures.auth import Org
from tests.fixtures.secrets import production_settings, rs256_settings, strong_secret

# AUTH__SECRET_KEY's default: public, and unused (so unchecked) with RS256/ES256.
PUBLIC_DEFAULT_KEY = AuthSettings().secret_key.get_secret_value().encode()


def rs256() -> AuthSettings:
    return rs256_settings()


def signed(codec: CursorCodec, payload: object) -> str:
    """A cursor whose payload is anything at all, validly signed by `codec`: what a client who
    knows the key can forge."""
    raw = json.dumps(payload).encode()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(raw)}.{b64(codec._sign(raw))}"


class TestItem7CursorSecret:
    def test_item7_production_refuses_a_missing_cursor_secret_with_rs256(self) -> None:
        with pytest.raises(ValidationError, match="API__CURSOR_SECRET"):
            Settings(_env_file=None, app_env="production", auth=rs256())

    @pytest.mark.parametrize("env", ["production", "staging"])
    def test_item7_production_refuses_a_weak_cursor_secret(
        self, monkeypatch: pytest.MonkeyPatch, env: str
    ) -> None:
        monkeypatch.setenv("APP_ENV", env)
        monkeypatch.setenv("AUTH__SECRET_KEY", strong_secret())
        for weak in ("", "change-me", "short-but-random-9f8e7d"):
            monkeypatch.setenv("API__CURSOR_SECRET", weak)
            with pytest.raises(ValidationError, match="API__CURSOR_SECRET"):
                Settings(_env_file=None)

    def test_item7_development_has_a_default(self) -> None:
        assert Settings(_env_file=None, app_env="development").api.cursor_secret

    async def test_item7_cursor_forged_with_the_public_default_key_is_refused_with_rs256(
        self,
    ) -> None:
        settings = production_settings(auth=rs256())  # the fixture supplies API__CURSOR_SECRET
        forged = CursorCodec(PUBLIC_DEFAULT_KEY).encode(
            Position(datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4())
        )
        async with open_resources(settings) as resources:
            with pytest.raises(InvalidCursorError, match="not issued"):
                resources.cursor_codec.decode(forged)

    async def test_item7_cursors_are_not_signed_with_the_token_key(self) -> None:
        # HS256: a cursor must not be an oracle for (or forgeable with) the token key either.
        settings = production_settings()
        token_key = settings.auth.secret_key.get_secret_value().encode()
        forged = CursorCodec(token_key).encode(
            Position(datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4())
        )
        async with open_resources(settings) as resources:
            with pytest.raises(InvalidCursorError, match="not issued"):
                resources.cursor_codec.decode(forged)


class TestItem7ImpossibleCursors:
    @pytest.mark.parametrize(
        "payload",
        [
            ["0001-01-01T00:00:00+14:00", str(uuid.uuid4())],  # before year 1 in UTC
            ["9999-12-31T23:59:59-14:00", str(uuid.uuid4())],  # after year 9999 in UTC
            ["2026-01-01T00:00:00+00:00", str(uuid.uuid4()), "extra"],
            ["2026-01-01T00:00:00", str(uuid.uuid4())],  # naive: no time zone
            ["2026-01-01", str(uuid.uuid4())],
            ["2026-01-01T00:00:00+00:00", 42],
            ["2026-01-01T00:00:00+00:00", "not-a-uuid"],
            [1, 2],
            {"a": 1, "b": 2},
            "garbage",
            None,
        ],
    )
    async def test_item7_cursor_with_impossible_values_is_refused(
        self, client: AsyncClient, app: FastAPI, acme: Org, payload: object
    ) -> None:
        resources: Resources = app.state.resources
        cursor = signed(resources.cursor_codec, payload)

        with pytest.raises(InvalidCursorError):
            resources.cursor_codec.decode(cursor)
        # demo:begin: and a list route answers it with 422
        from tests.fixtures.problems import assert_problem

        response = await client.get(
            "/api/v1/projects", params={"cursor": cursor}, headers=acme.viewer.headers
        )
        body = assert_problem(response, 422)
        assert body["type"] == "urn:problem:dependable:invalid-cursor"
        # demo:end
