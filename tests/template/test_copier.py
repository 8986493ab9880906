"""copier.yml: the questions' defaults (the slug derived from the name), the slug's validation,
and what a rendered project holds of the template's machinery (only .copier-answers.yml).

Rendered with the task skipped (tests/template/test_finalize.py covers it; `make
template-check` runs the whole thing), from this repository as git sees it."""

from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML has no inline types; no stubs installed
from copier import run_copy

REPO = Path(__file__).resolve().parents[2]


def render(destination: Path, **answers: object) -> dict[str, object]:
    run_copy(
        str(REPO),
        destination,
        data=answers,
        defaults=True,
        unsafe=True,
        skip_tasks=True,
        quiet=True,
    )
    loaded = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_defaults_and_the_slug_derived_from_the_name(tmp_path: Path) -> None:
    answers = render(tmp_path, project_name="Invoice Hub (EU)")
    assert {key: value for key, value in answers.items() if not key.startswith("_")} == {
        "project_name": "Invoice Hub (EU)",
        "project_slug": "invoice_hub_eu",
        "description": "A multi-tenant FastAPI service.",
        "tenant_resolver": "header",
        "include_demo": True,
        "author": "",
    }
    assert answers["_src_path"] == str(REPO)
    # The template's machinery stays in the template; the service's files are all there.
    for machinery in (
        "copier.yml",
        "scripts/template",
        "scripts/template-check.sh",
        "tests/template",
    ):
        assert not (tmp_path / machinery).exists(), machinery
    for kept in ("pyproject.toml", "uv.lock", "app/main.py", "Makefile", ".env.example"):
        assert (tmp_path / kept).is_file(), kept
    assert not (tmp_path / ".env").exists()  # the task writes it


@pytest.mark.parametrize("slug", ["Invoice-Hub", "a" * 41])
def test_a_slug_that_cannot_name_a_database_role_is_refused(tmp_path: Path, slug: str) -> None:
    with pytest.raises(ValueError, match="lower-case letters, digits or underscores"):
        render(tmp_path, project_slug=slug)
