"""The proof of `new-domain`: run as a newcomer runs it, in a copy of the repository (never this
checkout), its output passes what CI asks of the code, as generated.

Two domains: `invoice` with the fields the issue names, then `line_item` with every field type,
optional ones too, whose migration chains onto the first one's. Then, in the copy: ruff check,
ruff format --check, the import contracts, mypy --strict, and pytest on the generated tests with
the suites that walk every route and table (tests/security: the cross-tenant matrix, the route
contract, row-level security) and the migrations' walk up and down every revision, against a
database of the copy's own."""

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.core.config import Settings
from app.core.db import drop_database_if_exists
from tests.cli.conftest import ROOT
from tests.fixtures.database import fresh_database

BIN = Path(sys.executable).parent
# What a checkout holds that the checks read (bench/ too: ruff tells first-party imports by it).
COPIED: tuple[str, ...] = ("app", "migrations", "tests", "pyproject.toml", "alembic.ini")
# demo:begin
COPIED += ("bench",)
# demo:end
DOMAINS = {
    "invoice": "title:str due:date amount:int",
    "line_item": "note:text paid:bool paid_at:datetime? price:decimal quantity:int? due:date? "
    "label:str?",
}
GENERATED_TESTS = [f"tests/{name}" for name in DOMAINS]


def run(
    command: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the project's own tools, fixed arguments
        list(command),
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def passed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository, copied, with the two domains generated into it by the real command."""
    root = tmp_path_factory.mktemp("repository")
    caches = shutil.ignore_patterns("__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=caches)
        else:
            shutil.copy(source, root / name)
    for name, fields in DOMAINS.items():
        result = run(
            [sys.executable, "-m", "app.cli", "new-domain", name, "--fields", fields], root
        )
        assert passed(result), result.stdout + result.stderr
    return root


def test_ruff_check_and_format(copy: Path) -> None:
    checked = run([str(BIN / "ruff"), "check", "--no-cache", "."], copy)
    formatted = run([str(BIN / "ruff"), "format", "--check", "--no-cache", "."], copy)

    assert passed(checked), checked.stdout + checked.stderr
    assert passed(formatted), formatted.stdout + formatted.stderr


def test_the_import_contracts_with_the_new_packages_among_the_features(copy: Path) -> None:
    result = run([str(BIN / "lint-imports"), "--no-logo", "--no-cache"], copy)

    assert passed(result), result.stdout + result.stderr
    # Last in the top features layer, whichever domains the service has already.
    assert '| app.invoice | app.line_item",\n' in (copy / "pyproject.toml").read_text()


def test_mypy_strict(copy: Path) -> None:
    result = run([str(BIN / "mypy"), "--strict", "app", *GENERATED_TESTS, "tests/security"], copy)

    assert passed(result), result.stdout + result.stderr


async def test_its_tests_the_security_suites_and_the_migration_walk_pass(
    copy: Path, settings: Settings
) -> None:
    database = await fresh_database(settings, "new_domain")
    # The migration walk's scratch database, which a previous run left at its own revisions.
    base, name = database.database.owner_url.rsplit("/", 1)
    await drop_database_if_exists(f"{base}/{name}_migrations")
    suites = [*GENERATED_TESTS, "tests/security", "tests/migrations/test_migrations.py"]
    # The isolation property models the hand-written domains only (and takes most of a minute).
    skipped = ["--ignore", "tests/security/test_isolation_property.py"]

    result = run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *skipped, *suites],
        copy,
        env={
            "TEST_DATABASE_URL": database.database.url,
            "TEST_DATABASE_OWNER_URL": database.database.owner_url,
            "TEST_REDIS_URL": settings.redis.url,
        },
    )

    assert passed(result), result.stdout[-20_000:] + result.stderr
    # The suites that walk every route and table found the new ones by themselves.
    for walked in (
        "test_other_tenant_ids_are_404_and_nothing_changes[PATCH /api/v1/invoices/{invoice_id}]",
        "test_other_tenant_ids_are_404_and_nothing_changes[DELETE /api/v1/line-items/"
        "{line_item_id}]",
        "test_unfiltered_select_sees_only_the_bound_tenant[invoices]",
        "test_no_tenant_bound_sees_nothing[line_items]",
    ):
        assert f"{walked} PASSED" in result.stdout, walked
