"""`new-domain` without servers: the names and field specs it refuses (with one line, writing
nothing), what it writes and registers, and that its output is laid out as ruff wants even for
the longest name and every field type. That the output passes the linters, the type checker and
its tests is proven on a copy of the repository in test_new_domain_in_a_copy.py."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from app.cli import new_domain
from app.cli.commands import cli
from tests.cli.conftest import ROOT, error_line

EVERY_KIND = "a:str b:text c:int d:bool e:date f:datetime g:decimal h:str? i:date? j:decimal?"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """What the generator reads and changes, copied: app/, migrations/, pyproject.toml, the
    contract test's configuration, and the names of the test packages."""
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("app", "migrations"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=ignore)
    for package in (ROOT / "tests").iterdir():
        if package.is_dir() and package.name != "__pycache__":
            (tmp_path / "tests" / package.name).mkdir(parents=True)
    for file in ("pyproject.toml", "tests/contract/schemathesis.toml"):
        shutil.copy(ROOT / file, tmp_path / file)
    return tmp_path


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


class TestRefusedNames:
    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("class", "'class' is a Python keyword"),
            ("lambda", "'lambda' is a Python keyword"),
            ("list", "'list' would shadow the Python builtin"),
            ("user", "'user' collides with the existing app/user/"),
            ("health", "'health' collides with the existing app/health/"),
            ("fixtures", "'fixtures' collides with the existing tests/fixtures/"),
            ("refresh_token", "the table 'refresh_tokens' exists already"),
            ("etag", "'etag' is a name the generated code uses for something else"),
            ("change", "'changes' is a name the generated code uses for something else"),
            ("Invoice", "a domain name is lowercase snake_case"),
            ("line-item", "a domain name is lowercase snake_case"),
            ("line__item", "a domain name is lowercase snake_case"),
            ("2fa", "a domain name is lowercase snake_case"),
            ("x" * 31, "is longer than 30 characters"),
            ("", "give the domain a name"),
        ],
    )
    def test_is_one_line_and_writes_nothing(self, repo: Path, name: str, reason: str) -> None:
        before = snapshot(repo)

        result = CliRunner().invoke(cli, ["new-domain", name, "--root", str(repo)])

        assert reason in error_line(result.exit_code, result.stderr)
        assert snapshot(repo) == before

    def test_a_domain_is_not_made_twice(self, repo: Path) -> None:
        new_domain.generate(repo, "invoice", None)

        with pytest.raises(new_domain.NewDomainError, match="existing app/invoice/"):
            new_domain.generate(repo, "invoice", None)


class TestRefusedFields:
    @pytest.mark.parametrize(
        ("spec", "reason"),
        [
            ("title", "field 'title': write it NAME:TYPE"),
            ("title:", "field 'title:': write it NAME:TYPE"),
            (":str", "field ':str': write it NAME:TYPE"),
            ("title:string", "field 'title': unknown type 'string' (one of str, text, int,"),
            ("due:date??", "field 'due': unknown type 'date?'"),
            ("class:str", "field 'class' is a Python keyword"),
            ("Title:str", "field 'Title': use lowercase snake_case"),
            ("f" * 41 + ":int", "is longer than 40 characters"),
            ("version:int", "field 'version': every table has it already"),
            ("tenant_id:str", "field 'tenant_id': every table has it already"),
            ("model_config:str", "field 'model_config' would shadow an attribute"),
            ("metadata:text", "field 'metadata' would shadow an attribute"),
            ("title:str due:date title:text", "field 'title' is given twice"),
            ("  ", "--fields is empty"),
        ],
    )
    def test_is_one_line_and_writes_nothing(self, repo: Path, spec: str, reason: str) -> None:
        before = snapshot(repo)

        result = CliRunner().invoke(
            cli, ["new-domain", "invoice", "--fields", spec, "--root", str(repo)]
        )

        assert reason in error_line(result.exit_code, result.stderr)
        assert snapshot(repo) == before

    def test_spaces_or_commas_separate_fields(self) -> None:
        fields = new_domain.parse_fields("title:str, due:date?,amount:int")

        assert [(f.name, f.kind, f.optional) for f in fields] == [
            ("title", new_domain.KINDS["str"], False),
            ("due", new_domain.KINDS["date"], True),
            ("amount", new_domain.KINDS["int"], False),
        ]

    def test_without_fields_a_domain_has_a_name(self) -> None:
        assert new_domain.parse_fields(None) == (
            new_domain.Field("name", new_domain.KINDS["str"], optional=False),
        )


@pytest.mark.parametrize(
    ("name", "plural"),
    [("invoice", "invoices"), ("box", "boxes"), ("city", "cities"), ("day", "days")],
)
def test_plurals(name: str, plural: str) -> None:
    assert new_domain.pluralize(name) == plural


class TestWhatItWrites:
    def test_the_domain_its_tests_its_migration_and_three_registrations(self, repo: Path) -> None:
        head = new_domain.migration_head(repo)

        result = CliRunner().invoke(cli, ["new-domain", "line_item", "--root", str(repo)])

        assert result.exit_code == 0, result.output
        generated = {
            line.split()[1]
            for line in result.stdout.splitlines()
            if line.startswith(("created ", "changed "))
        }
        [migration] = [path for path in generated if path.startswith("migrations/versions/")]
        assert generated - {migration} == {
            *(f"app/line_item/{f}.py" for f in ("__init__", "models", "schemas", "exceptions")),
            *(f"app/line_item/{f}.py" for f in ("repository", "service", "dependencies")),
            "app/line_item/router.py",
            *(f"tests/line_item/{f}.py" for f in ("__init__", "factories", "test_router")),
            "tests/line_item/test_router_in_memory.py",
            "app/api/router.py",
            "migrations/models.py",
            "pyproject.toml",
            "tests/contract/schemathesis.toml",
        }
        revision = (repo / migration).read_text()
        assert f'down_revision: str | Sequence[str] | None = "{head}"' in revision
        assert "enable_tenant_isolation(TABLE)" in revision
        assert migration.endswith(f"-{new_domain.migration_head(repo)}_line_items.py")
        router = (repo / "app/api/router.py").read_text()
        assert "from app.line_item.router import router as line_item_router" in router
        assert "    line_item_router,\n)" in router
        assert (
            "from app.line_item import models as line_item_models"
            in (repo / "migrations/models.py").read_text()
        )
        # Last in the top features layer, whichever domains the service has already.
        assert '| app.line_item",\n' in (repo / "pyproject.toml").read_text()
        router_module = (repo / "app/line_item/router.py").read_text()
        assert 'APIRouter(prefix="/line-items", tags=["line-items"]' in router_module
        assert "    name: Name\n" in (repo / "app/line_item/schemas.py").read_text()
        contract = (repo / "tests/contract/schemathesis.toml").read_text()
        assert 'include-name-regex = "^(GET|POST) /api/v1/line-items$"' in contract

    def test_a_second_domain_chains_onto_the_first(self, repo: Path) -> None:
        new_domain.generate(repo, "invoice", "title:str")
        first = new_domain.migration_head(repo)

        new_domain.generate(repo, "receipt", "total:decimal")

        [revision] = (repo / "migrations/versions").glob("*_receipts.py")
        assert f'down_revision: str | Sequence[str] | None = "{first}"' in revision.read_text()
        assert '| app.invoice | app.receipt",\n' in (repo / "pyproject.toml").read_text()

    def test_the_revision_revises_the_spines_head_never_another_branchs(self, repo: Path) -> None:
        """A branch beside the spine (the demo's, say) keeps its head; alembic names the spine's."""
        spine = ScriptDirectory(str(repo / "migrations")).get_revision("spine@head")
        assert spine is not None
        (repo / "migrations/versions/2099_01_01_0000-cccccccccccc_beside.py").write_text(
            'revision: str = "cccccccccccc"\ndown_revision: str | None = None\n'
            'branch_labels: str | None = ("beside",)\n'
            f'depends_on: str | None = "{spine.revision}"\n'
        )

        assert new_domain.migration_head(repo) == spine.revision

    def test_two_heads_are_refused(self, repo: Path) -> None:
        head = new_domain.migration_head(repo)
        (repo / "migrations/versions/2099_01_01_0000-aaaaaaaaaaaa_branch.py").write_text(
            f'revision: str = "aaaaaaaaaaaa"\ndown_revision: str | None = "{head}"\n'
        )
        (repo / "migrations/versions/2099_01_01_0001-bbbbbbbbbbbb_branch.py").write_text(
            f'revision: str = "bbbbbbbbbbbb"\ndown_revision: str | None = "{head}"\n'
        )

        with pytest.raises(new_domain.NewDomainError, match=r"2 heads .*alembic merge heads"):
            new_domain.generate(repo, "invoice", None)
        assert not (repo / "app/invoice").exists()

    def test_the_longest_name_and_every_kind_of_field_are_laid_out_for_ruff(
        self, repo: Path
    ) -> None:
        """Templates cannot wrap their prose: every line that names the domain must fit 100
        columns even for a 30-character name."""
        name = "abcdefghij_klmnopqrst_uvwxyzab"
        generated = new_domain.generate(repo, name, f"{name}_field:text {EVERY_KIND}")
        python = [path for path in generated.created if path.endswith(".py")]

        assert generated.formatted
        ruff = str(Path(sys.executable).parent / "ruff")
        for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
            result = subprocess.run(  # noqa: S603 - the project's own ruff, fixed arguments
                [ruff, *args, *python], cwd=repo, capture_output=True, text=True, check=False
            )
            assert result.returncode == 0, result.stdout + result.stderr
