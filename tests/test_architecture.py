"""The layering, checked by import-linter: the contracts live in pyproject.toml
(`[tool.importlinter]`) and `make lint` runs them. These tests prove each contract can fail: a copy
of `app/` gets one import that breaks the contract's rule, and `lint-imports` must call that
contract broken."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(  # noqa: S603 - the project's own lint-imports, fixed arguments
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *selected, "pyproject.toml"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_code_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# (contract id, module that gets the import, the import that breaks the rule)
BREAKS = [
    ("no-cycles", "app/core/config.py", "import app.http.deps"),
    ("layers", "app/identity/models.py", "import app.auth.exceptions"),
    ("layers", "app/http/etag.py", "import app.user.schemas"),
    ("layers", "app/outbox/service.py", "import app.tenant.schemas"),
    ("layers", "app/outbox/repository.py", "import app.user.service"),  # below what records
    ("no-framework-below-routes", "app/user/service.py", "import fastapi"),
    ("no-framework-below-routes", "app/core/cache.py", "import starlette.responses"),
    ("routers-through-dependencies", "app/user/router.py", "import app.identity.repository"),
    ("routers-through-dependencies", "app/tenant/router.py", "from sqlalchemy import select"),
    ("repositories-below-services", "app/outbox/repository.py", "import app.outbox.service"),
]


@pytest.mark.parametrize(("contract", "module", "statement"), BREAKS, ids=str)
def test_each_contract_fails_when_its_rule_is_broken(
    tmp_path: Path, contract: str, module: str, statement: str
) -> None:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(f"{statement}  # noqa\n{target.read_text()}")

    result = lint_imports(tmp_path, contract)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 1 broken." in result.stdout
