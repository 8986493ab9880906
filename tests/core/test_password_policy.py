"""The password policy (`require_long_uncommon_password`, app/core/security.py): long enough, and
not one of the 10,000 most common passwords shipped in app/core/common_passwords.txt, as it is or
padded with digits and symbols. Signup and user creation answer a 422 problem; the CLI's
`create-user` is in tests/cli/test_common_password.py."""

import secrets

import pytest
from httpx import AsyncClient

from app.core.security import (
    COMMON_PASSWORDS_FILE,
    CommonPasswordError,
    WeakPasswordError,
    common_passwords,
    require_long_uncommon_password,
)
from tests.fixtures.auth import Org
from tests.fixtures.factories import signup_body
from tests.fixtures.problems import assert_problem

# Common passwords of 12+ characters: the length rule lets them through on its own.
COMMON_AS_IS = ["qwerty123456", "1qaz2wsx3edc", "QAZWSXEDCRFV", "justinbieber"]
# Common ones padded to 12+ characters, which is what a length rule gets instead.
COMMON_PADDED = ["password1234", "Dragon!!!!!!", "iloveyou2024!", "monkey 123456", "letmein12345"]
UNCOMMON = ["correct horse battery staple", "a long enough password", secrets.token_urlsafe(16)]


class TestTheRule:
    @pytest.mark.parametrize("password", COMMON_AS_IS + COMMON_PADDED)
    def test_a_common_password_is_refused(self, password: str) -> None:
        with pytest.raises(CommonPasswordError, match="most common passwords") as refused:
            require_long_uncommon_password(password, 12)

        assert password not in refused.value.detail
        assert refused.value.status == 422
        assert refused.value.code == "common-password"

    @pytest.mark.parametrize("password", UNCOMMON)
    def test_an_uncommon_long_password_passes(self, password: str) -> None:
        require_long_uncommon_password(password, 12)

    def test_length_is_checked_first(self) -> None:
        with pytest.raises(WeakPasswordError, match="at least 12 characters") as refused:
            require_long_uncommon_password("password", 12)

        assert type(refused.value) is WeakPasswordError

    def test_the_list_is_the_shipped_file(self) -> None:
        entries = [
            line
            for line in COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
            if not line.startswith("#")
        ]

        assert len(entries) == len(common_passwords()) == 10_000
        assert entries[:3] == ["123456", "password", "12345678"]  # most common first
        assert all(entry == entry.lower() and entry.strip() == entry for entry in entries)


class TestEveryWayToSetAPassword:
    async def test_signup_is_a_422_problem(self, client: AsyncClient) -> None:
        response = await client.post("/api/v1/tenants", json=signup_body(password="password1234"))

        body = assert_problem(response, 422)
        assert body["type"].endswith("common-password")
        assert "password1234" not in response.text

    async def test_a_new_user_is_a_422_problem(self, client: AsyncClient, acme: Org) -> None:
        new_user = {
            "email": "new@acme.example.com",
            "password": "qwerty123456",
            "full_name": "New Person",
            "role": "member",
        }

        response = await client.post("/api/v1/users", json=new_user, headers=acme.admin.headers)

        assert assert_problem(response, 422)["type"].endswith("common-password")
