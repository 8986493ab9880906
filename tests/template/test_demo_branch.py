"""The demo's migrations are an Alembic branch of their own, so they come off cleanly and never
hold the spine back.

Without the revisions scripts/template/remove_demo.py deletes, the spine stands alone: one root,
labelled `spine`, and one head. And because no spine revision revises a demo one, a spine
revision written after the demo's have run still runs: on a real database at the demo's head,
`alembic upgrade heads` applies it (a single chain could not: a revision inserted before the
demo's was taken as applied there, and never ran).

A check of this template's own history; the whole demo-off project is proven by
scripts/template/check_demo_off.sh."""

import ast
import asyncio
import fnmatch
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest
from alembic import command
from alembic.script import Script, ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.resources import read_migration_heads
from tests.fixtures.database import alembic_config, scratch_database, version_rows

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "template" / "remove_demo.py"
PROBE = '''"""A spine revision written after the demo's ran (tests/template/test_demo_branch.py)."""

from alembic import op

revision = "5b1ee0000001"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE spine_probe (id integer)")


def downgrade() -> None:
    op.execute("DROP TABLE spine_probe")
'''


def demo_paths() -> tuple[str, ...]:
    """DEMO_PATHS, read from the script's source (it is a script, not an importable module)."""
    for node in ast.parse(SCRIPT.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DEMO_PATHS":
            paths = ast.literal_eval(node.value)
            assert isinstance(paths, tuple)
            return tuple(str(path) for path in paths)
    raise AssertionError("remove_demo.py has no DEMO_PATHS")


def names(value: str | Iterable[str] | None) -> set[str]:
    """A down_revision or depends_on value as a set of revision ids."""
    if value is None:
        return set()
    return {value} if isinstance(value, str) else set(value)


def history() -> tuple[ScriptDirectory, dict[str, Script], dict[str, Script]]:
    """The script directory, then the demo's revisions and the spine's, by id."""
    script = ScriptDirectory(str(ROOT / "migrations"))
    patterns = demo_paths()
    demo: dict[str, Script] = {}
    spine: dict[str, Script] = {}
    for revision in script.walk_revisions():
        path = str(Path(revision.path).relative_to(ROOT))
        is_demo = any(fnmatch.fnmatch(path, pattern) for pattern in patterns)
        (demo if is_demo else spine)[revision.revision] = revision
    return script, demo, spine


def resolve(script: ScriptDirectory, symbol: str) -> str:
    """A symbolic revision (`spine@head`) as its id."""
    revision = script.get_revision(symbol)
    assert revision is not None
    return revision.revision


def test_the_demo_is_a_branch_that_no_spine_revision_revises() -> None:
    _, demo, spine = history()

    assert len(demo) == 2
    [root] = [r for r in demo.values() if r.down_revision is None]
    assert root.branch_labels == {"demo"}
    assert names(root.dependencies) <= set(spine)  # it needs the spine, as it stood then
    for revision in spine.values():
        assert not (names(revision.down_revision) | names(revision.dependencies)) & set(demo)


def test_without_the_demo_the_spine_has_one_root_and_one_head() -> None:
    script, _, spine = history()

    [root] = [r for r in spine.values() if r.down_revision is None]
    parents = {parent for r in spine.values() for parent in names(r.down_revision)}
    assert "spine" in root.branch_labels
    assert set(spine) - parents == {resolve(script, "spine@head")}


@pytest.fixture
async def scratch_settings(settings: Settings) -> Settings:
    return await scratch_database(settings, "demo_branch")


async def has_probe_table(url: str) -> bool:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        probe = await connection.scalar(text("SELECT to_regclass('spine_probe')"))
    await engine.dispose()
    return probe is not None


async def test_a_spine_revision_written_after_the_demos_ran_still_runs(
    scratch_settings: Settings, tmp_path: Path
) -> None:
    config = alembic_config(scratch_settings)
    url = scratch_settings.database.owner_url
    script, demo, _ = history()
    await asyncio.to_thread(command.upgrade, config, "heads")
    assert await version_rows(url) == read_migration_heads()
    [demo_head] = read_migration_heads() & set(demo)  # the demo's head implies the spine's

    # The same history with one spine revision more, on the spine's head.
    shutil.copytree(ROOT / "migrations", tmp_path / "migrations")
    probe = tmp_path / "migrations" / "versions" / "2099_01_01_0000-5b1ee0000001_probe.py"
    probe.write_text(PROBE.format(down_revision=resolve(script, "spine@head")), encoding="utf-8")
    config.set_main_option("script_location", str(tmp_path / "migrations"))
    await asyncio.to_thread(command.upgrade, config, "heads")

    assert await version_rows(url) == {demo_head, "5b1ee0000001"}
    assert await has_probe_table(url)
    assert read_migration_heads(tmp_path / "migrations") == {demo_head, "5b1ee0000001"}
