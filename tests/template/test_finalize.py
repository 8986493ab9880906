"""scripts/template/finalize.py, copier's post-generation task, on small trees made here: the
names, the template-only blocks, the lines the names make too long, the settings and `.env`."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "template" / "finalize.py"
BEGIN, END = "template:" + "begin", "template:" + "end"  # split: no template block itself


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("finalize", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


finalize = load()


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def run(root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, the script under test
        [sys.executable, str(SCRIPT), *arguments, str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


class TestNames:
    def test_the_slug_names_the_service_and_kubernetes_takes_it_with_hyphens(self) -> None:
        python = 'ISSUER = "dependable"  # Dependable, DEPENDABLE_IMAGE\n'
        assert finalize.rename(python, "app/core/x.py", "Invoice Hub", "invoice_hub") == (
            'ISSUER = "invoice_hub"  # Invoice Hub, INVOICE_HUB_IMAGE\n'
        )
        manifest = "name: dependable-api\n"
        for path in ("deploy/kubernetes/base/api.yaml", "tests/deploy/test_kubernetes.py"):
            renamed = finalize.rename(manifest, path, "Invoice Hub", "invoice_hub")
            assert renamed == "name: invoice-hub-api\n"
        lock = finalize.rename('name = "dependable"\n', "uv.lock", "Invoice Hub", "invoice_hub")
        assert lock == 'name = "invoice-hub"\n'  # uv writes the project's name normalized

    def test_copiers_answers_and_the_env_are_never_rewritten(self, tmp_path: Path) -> None:
        write(
            tmp_path,
            {
                ".copier-answers.yml": "_src_path: /src/dependable\n",
                ".env": "APP_NAME=Dependable\n",
                "app/x.py": "NAME = 'dependable'\n",
            },
        )
        names = {path.relative_to(tmp_path).as_posix() for path in finalize.text_files(tmp_path)}
        assert names == {"app/x.py"}


class TestTemplateBlocks:
    def test_blocks_go_with_their_markers_in_any_comment_syntax(self) -> None:
        text = f"a\n# {BEGIN} why\nb\n# {END}\nc\n<!-- {BEGIN} -->\nd\n<!-- {END} -->\ne\n"
        assert finalize.strip_template_blocks(text, "f") == "a\nc\ne\n"

    def test_an_unclosed_block_is_an_error_naming_the_line(self) -> None:
        text = f"a\n# {BEGIN}\nb\n"
        with pytest.raises(SystemExit, match="Makefile:2"):
            finalize.strip_template_blocks(text, "Makefile")


class TestLongLines:
    def test_comments_and_strings_over_the_limit_are_wrapped_code_gets_a_noqa(self) -> None:
        long = "word " * 25
        text = f'# {long}\ndef f() -> None:\n    """{long}\n    """\nX = "{long}"\n'
        fitted = finalize.fit_python(text)
        assert all(
            len(line) <= 100 or line.endswith("# noqa: E501") for line in fitted.splitlines()
        )
        assert "# noqa: E501" in fitted.splitlines()[-1]
        # Only the layout changed: the same words, in the same order.
        words = re.findall(r"[A-Za-z]+", fitted.replace("noqa", "").replace("E501", ""))
        assert words == re.findall(r"[A-Za-z]+", text)

    def test_lines_within_the_limit_are_untouched(self) -> None:
        text = "# short\nX = 1\n"
        assert finalize.fit_python(text) == text


class TestSettingsAndEnv:
    def test_a_copy_writes_env_with_fresh_secrets_and_an_update_keeps_it(
        self, tmp_path: Path
    ) -> None:
        write(
            tmp_path,
            {
                ".env.example": "AUTH__SECRET_KEY=dev-only-change-me\n"
                "API__CURSOR_SECRET=dev-only\nTENANCY__RESOLVER=header\nTENANCY__BASE_DOMAIN=\n",
                "deploy/kubernetes/base/config.env": "TENANCY__RESOLVER=header\n",
                "pyproject.toml": '[project]\nname = "dependable"\ndescription = "old"\n',
                "README.md": "# Dependable\n\nOld intro,\nover two lines.\n\n## Next\n",
                "Makefile": f"test:\n# {BEGIN}\ntemplate-check:\n# {END}\n",
            },
        )
        answers = [
            "--project-name=Dependable",
            "--project-slug=dependable",
            "--description=Bills, sent on time.",
            "--author=Ada Lovelace <ada@example.com>",
            "--tenant-resolver=subdomain",
            "--include-demo=true",
        ]
        copied = run(tmp_path, "--operation=copy", *answers)
        assert copied.returncode == 0, copied.stderr
        assert "docker compose up --build" in copied.stdout
        assert "make test" in copied.stdout
        env = (tmp_path / ".env").read_text()
        assert "TENANCY__RESOLVER=subdomain\nTENANCY__BASE_DOMAIN=localhost\n" in env
        secrets = dict(
            line.split("=", 1) for line in env.splitlines() if "SECRET" in line.split("=")[0]
        )
        assert set(secrets) == {"AUTH__SECRET_KEY", "API__CURSOR_SECRET"}
        assert all(len(value) >= 64 and "dev-only" not in value for value in secrets.values())
        assert (tmp_path / ".env").stat().st_mode & 0o077 == 0
        config = (tmp_path / "deploy/kubernetes/base/config.env").read_text()
        assert config == "TENANCY__RESOLVER=subdomain\n"
        pyproject = (tmp_path / "pyproject.toml").read_text()
        assert 'description = "Bills, sent on time."\n' in pyproject
        assert 'authors = [{ name = "Ada Lovelace", email = "ada@example.com" }]\n' in pyproject
        readme = (tmp_path / "README.md").read_text()
        assert readme == "# Dependable\n\nBills, sent on time.\n\n## Next\n"
        assert (tmp_path / "Makefile").read_text() == "test:\n"

        before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
        updated = run(tmp_path, "--operation=update", *answers)
        assert updated.returncode == 0, updated.stderr
        assert "docker compose" not in updated.stdout  # the next commands are for a copy
        after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
        assert after == before  # idempotent, and .env (its secrets) kept

    def test_without_the_demo_a_missing_remove_demo_script_fails_loudly(
        self, tmp_path: Path
    ) -> None:
        template = tmp_path / "template"
        template.mkdir()
        project = tmp_path / "project"
        write(project, {".env.example": "X=1\n"})
        result = run(
            project,
            "--project-name=Dependable",
            "--project-slug=dependable",
            "--include-demo=false",
            f"--template={template}",
        )
        assert result.returncode != 0
        assert "remove_demo.py is missing" in result.stderr
