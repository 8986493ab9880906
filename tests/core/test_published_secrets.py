"""Item 2 of issue 10: no secret published in this repository may guard a deployment.

The test finds the sample secrets itself: it reads every tracked file (`git ls-files`), collects
the values assigned to secret settings (`AUTH__SECRET_KEY=...`, `secret_key="..."`,
`${AUTH__SECRET_KEY:-...}`, `setenv("AUTH__SECRET_KEY", "...")`, `METRICS_TOKEN = "..."`, ...)
and asserts that production settings refuse each one in every secret slot. A new sample key in a
compose file, a doc or a test therefore fails here until `secret_weakness` refuses it (a marker
word, or an entry in `PUBLISHED_SECRETS`). Tests that need a key production accepts generate one
at run time (`tests/fixtures/secrets.py`), so none is ever committed.
"""

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from app.core.config import (
    ApiSettings,
    AppEnv,
    AuthSettings,
    OperationsSettings,
    Settings,
)
from tests.fixtures.secrets import production_settings, strong_secret

ROOT = Path(__file__).resolve().parents[2]

# Names whose assigned value is a secret: the settings' variables and fields, and the names a
# sample tends to get (STRONG_SECRET, METRICS_TOKEN, signing_key, ...). Case-insensitive.
SECRET_NAME = (
    r"[A-Za-z_]*(?:secret|metrics_token|signing_key|private_key|previous_keys|api_key)"
    r"[A-Za-z_]*"
)
QUOTED = r"""(?P<q>["'])(?P<quoted>[^"'\n]*)(?P=q)"""
REPEATED = r"""(?P<rq>["'])(?P<char>[^"'\n]+)(?P=rq)\s*\*\s*(?P<times>\d+)"""
# NAME = "value", NAME: value, NAME=value, secret_key=SecretStr("value"), NAME={'k' * 48}
ASSIGNMENT = re.compile(
    rf"""(?ix)\b(?P<name>{SECRET_NAME})["']?\s*(?:=|:(?!=)|,)\s*
    (?:SecretStr\(|\{{)?\s*
    (?:{REPEATED}|{QUOTED}|(?P<bare>[^\s"'#,)}}]+))"""
)
# ${AUTH__SECRET_KEY:-default} in compose files and scripts.
COMPOSE_DEFAULT = re.compile(rf"(?i)\$\{{(?P<name>{SECRET_NAME}):?-(?P<value>[^}}]*)\}}")
# {"k0": "value"} after previous_keys (JSON in .env, a dict in Python).
KEYED = re.compile(r"""["'][\w.-]+["']\s*:\s*["'](?P<value>[^"'\n]*)["']""")
PRIVATE_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
# A bare (unquoted) word in Python is an expression, not a value; in other files it is the value.
NOT_A_VALUE = re.compile(r"^(?:\.\.\.|\$.*|<.*>|\{.*|None|null|true|false|\[.*|\(.*)$")


def tracked_files() -> list[Path]:
    git = shutil.which("git")
    listing = subprocess.run(  # noqa: S603 (a fixed command)
        [git or "git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if git is None or listing.returncode != 0:
        # The test image (Dockerfile's dev stage) has neither .git nor the compose files: the
        # scan runs on a checkout (`make test`, `bash .ci/run`), where it means something.
        return []
    return [ROOT / name for name in listing.stdout.split("\0") if name]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None  # binary (an image) or deleted in the working tree


def values_in(text: str, *, python: bool) -> set[str]:
    found: set[str] = set()
    for line in text.splitlines():
        for match in ASSIGNMENT.finditer(line):
            if match["times"]:
                found.add(match["char"] * int(match["times"]))
            elif match["q"]:
                found.add(match["quoted"])
            elif not python and match["bare"]:
                found.add(match["bare"])
            if "previous_keys" in match["name"].lower():
                found |= {keyed["value"] for keyed in KEYED.finditer(line[match.start() :])}
        found |= {match["value"] for match in COMPOSE_DEFAULT.finditer(line)}
    return {value for value in found if value and not NOT_A_VALUE.match(value)}


def published_values() -> dict[str, list[str]]:
    """Each value assigned to a secret name anywhere in the repository, with where it is."""
    values: dict[str, list[str]] = {}
    for path in tracked_files():
        if path.suffix == ".lock" or (text := text_of(path)) is None:
            continue
        for value in values_in(text, python=path.suffix == ".py"):
            values.setdefault(value, []).append(str(path.relative_to(ROOT)))
    return values


PUBLISHED = published_values()
needs_checkout = pytest.mark.skipif(not PUBLISHED, reason="not a git checkout")


def hs_key(value: str) -> Settings:
    return production_settings(auth=AuthSettings(secret_key=SecretStr(value)))


def previous_key(value: str) -> Settings:
    return production_settings(
        auth=AuthSettings(
            secret_key=SecretStr(strong_secret()),
            key_id="k2",
            previous_keys={"k1": SecretStr(value)},
        )
    )


def cursor_secret(value: str) -> Settings:
    return production_settings(api=ApiSettings(cursor_secret=SecretStr(value)))


def metrics_token(value: str) -> Settings:
    return production_settings(
        operations=OperationsSettings(metrics_mode="bearer", metrics_token=SecretStr(value))
    )


SLOTS: dict[str, Callable[[str], Settings]] = {
    "AUTH__SECRET_KEY": hs_key,
    "AUTH__PREVIOUS_KEYS": previous_key,
    "API__CURSOR_SECRET": cursor_secret,
    "OPERATIONS__METRICS_TOKEN": metrics_token,
}


@needs_checkout
def test_item2_the_scan_finds_the_sample_keys_it_must_find() -> None:
    # The scanner itself must work: the compose default and .env.example's value are found, and
    # so are the test suite's samples, whatever their shape.
    compose = "dev-only-insecure-compose-key-do-not-deploy-0123456789"
    assert "docker-compose.yml" in PUBLISHED[compose]
    assert ".env.example" in PUBLISHED["dev-only-change-me"]
    assert any("tests/observability/conftest.py" in where for where in PUBLISHED.values())


@pytest.mark.parametrize("slot", sorted(SLOTS))
@pytest.mark.parametrize("value", sorted(PUBLISHED))
def test_item2_repository_sample_keys_are_refused_in_production(value: str, slot: str) -> None:
    # On failure: `value`, found in PUBLISHED[value], is accepted as `slot` in production.
    with pytest.raises(ValidationError, match=slot.split("__")[0]):
        SLOTS[slot](value)


@pytest.mark.parametrize("env", ["development", "test"])
def test_item2_sample_keys_still_work_in_development(env: AppEnv) -> None:
    compose = "dev-only-insecure-compose-key-do-not-deploy-0123456789"
    settings = Settings(
        _env_file=None, app_env=env, auth=AuthSettings(secret_key=SecretStr(compose))
    )
    assert settings.auth.secret_key.get_secret_value() == compose


def test_item2_production_settings_accept_generated_keys() -> None:
    # The other side of the rule: what the docs tell operators to run is accepted, each time.
    for build in SLOTS.values():
        build(strong_secret())


def test_item2_no_private_key_is_committed() -> None:
    # A PEM private key in the repository is published: tests generate theirs at run time.
    offenders = [
        str(path.relative_to(ROOT))
        for path in tracked_files()
        if (text := text_of(path)) is not None
        and path.name != Path(__file__).name
        and PRIVATE_KEY_BLOCK.search(text)
    ]
    assert offenders == []
