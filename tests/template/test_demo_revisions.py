"""The demo's migrations come off cleanly: without the revisions scripts/template/remove_demo.py
deletes, every remaining revision's parent still exists and the chain has one head (and with
them, one head too: the demo's revisions come after the spine's newest).

A check of this template's own history (a spine revision must never revise a demo one); the
whole demo-off project is proven by scripts/template/check_demo_off.sh."""

import ast
import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "template" / "remove_demo.py"


def demo_paths() -> tuple[str, ...]:
    """DEMO_PATHS, read from the script's source (it is a script, not an importable module)."""
    for node in ast.parse(SCRIPT.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DEMO_PATHS":
            paths = ast.literal_eval(node.value)
            assert isinstance(paths, tuple)
            return tuple(str(path) for path in paths)
    raise AssertionError("remove_demo.py has no DEMO_PATHS")


def revision_and_parent(path: Path) -> tuple[str, str | None]:
    found: dict[str, str | None] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id in ("revision", "down_revision")
            and node.value is not None
        ):
            found[node.target.id] = ast.literal_eval(node.value)
    revision = found["revision"]
    assert revision is not None
    return revision, found["down_revision"]


def test_the_spine_chain_stands_without_the_demo_revisions() -> None:
    patterns = demo_paths()
    files = sorted((ROOT / "migrations" / "versions").glob("*.py"))
    demo = [f for f in files if any(fnmatch.fnmatch(str(f.relative_to(ROOT)), p) for p in patterns)]
    spine = dict(revision_and_parent(f) for f in files if f not in demo and f.name != "__init__.py")

    assert len(demo) == 2
    everything = dict(revision_and_parent(f) for f in files if f.name != "__init__.py")
    assert len(set(everything) - set(everything.values())) == 1  # with the demo, one head too
    assert {parent for parent in spine.values() if parent not in spine} == {None}
    heads = set(spine) - set(spine.values())
    assert len(heads) == 1
