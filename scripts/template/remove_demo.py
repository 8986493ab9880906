"""Take the demo domain (projects, tasks, feature flags) out of a Dependable project.

    python3 scripts/template/remove_demo.py [PROJECT_DIR]        # default: the current directory

Two steps, both idempotent (a second run finds nothing to do):
1. every path in DEMO_PATHS (globs, relative to the project) is deleted: the demo's packages,
   tests, migrations and seed command;
2. in every remaining text file, each marked block is deleted with its marker lines: from a
   `demo:begin` line through the next `demo:end` line. A marker line is a comment in the file's
   own syntax that starts with the marker (`# demo:begin` in Python, TOML, YAML, shell, the
   Makefile; `<!-- demo:begin -->` in Markdown; `%% demo:begin` in a Mermaid block; `//` and
   `--` work too), so the project with the demo is a working project as well, and prose that
   merely names a marker is not one.

A nested begin, an end without a begin or a begin without an end is an error: nothing is
written or deleted, each is reported as file:line and the exit status is 1.

Stdlib only: the copier task runs it in a rendered project before anything is installed.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

MARKER = re.compile(r"^\s*(?:#|<!--|//|--|%%)\s*demo:(begin|end)\b")

# Everything that is the demo's and nothing else's.
DEMO_PATHS = (
    "app/project",
    "app/task",
    "app/flag",
    "app/cli/seed.py",
    "app/cli/seed_report.py",
    "app/api/demo.py",
    "migrations/demo_models.py",
    "tests/project",
    "tests/task",
    "tests/flag",
    "tests/cli/test_seed_demo.py",
    "tests/fixtures/demo.py",
    "tests/fixtures/demo_constraints.py",
    # The template's own checks, which read the demo's paths and revisions.
    "tests/template",
    "migrations/versions/*_projects_tasks_and_feature_flags.py",
    "migrations/versions/*_creation_order_within_a_transaction.py",
    # The benchmark measures the demo's routes against a baseline doing the same work.
    "bench",
    "tests/bench",
    "docs/benchmarks.md",
    "docs/img/benchmarks.png",
)

# Never read or rewritten: tool state, dependencies, this script.
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}
SKIPPED_DIRS |= {".pytest_cache", ".import_linter_cache"}


class MarkerError(Exception):
    """Unbalanced or nested markers; the message lists every one as file:line."""


def strip_blocks(text: str, name: str) -> str:
    """`text` without its marked blocks (markers included); MarkerError when they do not pair.

    The blank lines around a block become one gap, as wide as the wider of the two (so a block
    between two functions leaves the two blank lines ruff format wants, and a paragraph of
    Markdown one), and a block that ended the file leaves no blank line at the end."""
    kept: list[str] = []
    errors: list[str] = []
    opened: int | None = None
    after_block = False  # between a block's end and the next line that is not blank
    gap_after: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = MARKER.match(line)
        kind = marker[1] if marker else None
        if kind == "begin":
            if opened is not None:
                errors.append(f"{name}:{number}: demo:begin inside the block opened at {opened}")
            opened = number
        elif kind == "end":
            if opened is None:
                errors.append(f"{name}:{number}: demo:end without a demo:begin")
            opened = None
            after_block = True
        elif opened is None:
            if after_block and not line.strip():
                gap_after.append(line)
                continue
            if after_block:
                gap_before = len(kept) - len(_without_trailing_blanks(kept))
                kept.extend(gap_after[gap_before:])
                after_block, gap_after = False, []
            kept.append(line)
    if opened is not None:
        errors.append(f"{name}:{opened}: demo:begin without a demo:end")
    if errors:
        raise MarkerError("\n".join(errors))
    if after_block:
        kept = _without_trailing_blanks(kept)
    return "".join(kept)


def _without_trailing_blanks(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def delete_demo_paths(root: Path) -> list[Path]:
    deleted = []
    for pattern in DEMO_PATHS:
        for path in sorted(root.glob(pattern)):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            deleted.append(path)
    return deleted


def text_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED_DIRS for part in relative.parts) or not path.is_file():
            continue
        if path.is_symlink():
            continue
        files.append(path)
    return files


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary file (not UTF-8, or holding NUL)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def marked_files(root: Path) -> dict[Path, str]:
    """Every text file holding a marker, stripped; MarkerError listing every bad one."""
    stripped: dict[Path, str] = {}
    errors: list[str] = []
    for path in text_files(root):
        text = read_text(path)
        if text is None or "demo:" not in text:
            continue
        try:
            stripped[path] = strip_blocks(text, str(path.relative_to(root)))
        except MarkerError as error:
            errors.append(str(error))
    if errors:
        raise MarkerError("\n".join(errors))
    return {path: text for path, text in stripped.items() if text != read_text(path)}


def remove_demo(root: Path) -> tuple[list[Path], list[Path]]:
    """Every file's markers are checked before anything is deleted or written, so a bad marker
    leaves the project as it was."""
    marked_files(root)
    deleted = delete_demo_paths(root)
    stripped = marked_files(root)
    for path, text in stripped.items():
        path.write_text(text, encoding="utf-8")
    return deleted, list(stripped)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: remove_demo.py [PROJECT_DIR]", file=sys.stderr)
        return 2
    root = Path(argv[0] if argv else ".").resolve()
    if not root.is_dir():
        print(f"remove_demo: {root} is not a directory", file=sys.stderr)
        return 2
    try:
        deleted, stripped = remove_demo(root)
    except MarkerError as error:
        print(f"remove_demo: unbalanced demo markers, nothing changed:\n{error}", file=sys.stderr)
        return 1
    print(f"remove_demo: {len(deleted)} demo paths deleted, {len(stripped)} files stripped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
