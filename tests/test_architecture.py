"""The layering, checked mechanically: imports flow router -> service -> repository -> models,
services and repositories never see the web framework, and `app/core` depends on nothing above."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
FRAMEWORK = ("fastapi", "starlette")


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def modules(*patterns: str) -> list[Path]:
    found = sorted({path for pattern in patterns for path in APP.glob(pattern)})
    assert found, patterns
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(APP.parent))


@pytest.mark.parametrize(
    "path",
    modules("*/service.py", "*/repository.py", "*/models.py", "*/exceptions.py", "core/*.py"),
    ids=rel,
)
def test_no_framework_below_the_router(path: Path):
    """Domain errors are mapped to HTTP in one place (app/http/problems.py), not raised as HTTP."""
    offending = [name for name in imports(path) if name.split(".")[0] in FRAMEWORK]
    assert offending == []


@pytest.mark.parametrize("path", modules("core/*.py"), ids=rel)
def test_core_depends_on_nothing_above_it(path: Path):
    offending = [
        name
        for name in imports(path)
        if name.startswith("app.") and not name.startswith("app.core")
    ]
    assert offending == []


@pytest.mark.parametrize("path", modules("*/router.py"), ids=rel)
def test_routers_reach_repositories_only_through_dependencies(path: Path):
    offending = [name for name in imports(path) if name.endswith((".repository", ".models"))]
    # Enums used as query parameter types are the one model import a router may need.
    assert [name for name in offending if name != "app.task.models"] == []


@pytest.mark.parametrize("path", modules("*/repository.py"), ids=rel)
def test_repositories_do_not_call_services(path: Path):
    assert [name for name in imports(path) if name.endswith(".service")] == []
