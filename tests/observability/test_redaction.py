"""The redaction processor (app/core/logging.py): secret-keyed values are masked at any depth,
secrets in free text are scrubbed, and nothing the caller logged is changed in place."""

from collections.abc import MutableMapping
from typing import Any

import pytest
from starlette.datastructures import Headers

from app.core.logging import REDACTED, redact, scrub_text

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl"


def run(event_dict: dict[str, Any]) -> MutableMapping[str, Any]:
    return redact(None, "info", event_dict)


class TestSecretKeys:
    @pytest.mark.parametrize(
        "key",
        [
            "password",
            "Password",
            "new_password",
            "token",
            "access_token",
            "refresh_token",
            "secret",
            "client_secret",
            "AUTH__SECRET_KEY",
            "authorization",
            "Authorization",
            "cookie",
            "Set-Cookie",
            "api_key",
            "X-Api-Key",
            "apikey",
            "private_key",
        ],
    )
    def test_is_masked(self, key: str) -> None:
        assert run({"event": "e", key: "s3cr3t-value"})[key] == REDACTED

    @pytest.mark.parametrize("key", ["email", "path", "route", "status", "tenant_id", "user_id"])
    def test_ordinary_key_is_kept(self, key: str) -> None:
        assert run({"event": "e", key: "visible"})[key] == "visible"

    def test_at_any_depth_in_dicts_lists_and_tuples(self) -> None:
        event = {
            "event": "e",
            "request": {"headers": {"Authorization": "Bearer abc", "Accept": "*/*"}},
            "attempts": [{"username": "olive", "password": "hunter2"}],
            "pair": ({"refresh_token": "r-123"}, "plain"),
        }

        out = run(event)

        assert out["request"] == {"headers": {"Authorization": REDACTED, "Accept": "*/*"}}
        assert out["attempts"] == [{"username": "olive", "password": REDACTED}]
        assert out["pair"] == ({"refresh_token": REDACTED}, "plain")

    def test_header_mappings_are_masked(self) -> None:
        headers = Headers({"cookie": "session=abc", "user-agent": "curl"})
        out = run({"event": "e", "headers": headers})
        assert out["headers"] == {"cookie": REDACTED, "user-agent": "curl"}

    def test_a_secret_key_holding_a_structure_is_masked_whole(self) -> None:
        assert run({"event": "e", "credentials": {"user": "u", "pw": "p"}})["credentials"] == (
            REDACTED
        )

    def test_none_stays_none(self) -> None:
        # "no token" is useful to see, and reveals nothing.
        assert run({"event": "e", "token": None})["token"] is None

    def test_the_logged_objects_are_not_changed(self) -> None:
        payload = {"password": "hunter2", "nested": {"token": "t"}}
        run({"event": "e", "payload": payload})
        assert payload == {"password": "hunter2", "nested": {"token": "t"}}


class TestFreeText:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("login failed: password=hunter2 for olive", "hunter2"),
            ('body {"password": "hunter2", "email": "o@example.com"}', "hunter2"),
            ("refresh_token='r-abc123' was spent", "r-abc123"),
            ("header Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
            ("Authorization: Basic b2xpdmU6aHVudGVyMg==", "b2xpdmU6aHVudGVyMg=="),
            (f"decoded {JWT} fine", JWT),
            ("api-key: k-123456 rejected", "k-123456"),
        ],
    )
    def test_is_scrubbed(self, text: str, secret: str) -> None:
        scrubbed = scrub_text(text)
        assert secret not in scrubbed
        assert REDACTED in scrubbed

    def test_text_without_secrets_is_unchanged(self) -> None:
        text = "GET /api/v1/tenants answered 201 in 12.5 ms"
        assert scrub_text(text) == text

    def test_message_and_traceback_are_scrubbed_in_events(self) -> None:
        out = run(
            {
                "event": "connect failed: password=hunter2",
                "exception": 'Traceback ...\nRuntimeError: token="t-secret"',
            }
        )
        assert "hunter2" not in str(out["event"])
        assert "t-secret" not in str(out["exception"])
        assert str(out["exception"]).startswith("Traceback")
