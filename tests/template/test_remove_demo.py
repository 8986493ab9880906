"""scripts/template/remove_demo.py on a small tree made here: the demo's paths go, marked blocks
go with their markers in any comment syntax, a second run changes nothing, and unbalanced or
nested markers fail with file:line before anything is touched."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "template" / "remove_demo.py"
BEGIN, END = "demo:" + "begin", "demo:" + "end"  # split: this file is no demo block itself


def remove_demo(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, the script under test
        [sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False
    )


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_demo_paths_and_marked_blocks_go(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/project/router.py": "router = 1\n",
            "app/user/router.py": "router = 2\n",
            "migrations/versions/2026_x-abc_projects_tasks_and_feature_flags.py": "x = 1\n",
            "app/api/router.py": f"a = 1\n# {BEGIN}\nb = 2\n    # {END}: the demo\nc = 3\n",
            "README.md": f"Intro.\n\n<!-- {BEGIN} -->\nThe demo.\n<!-- {END} -->\n\nMore.\n",
            "app/cli.py": f"a = 1\n\n\n# {BEGIN}\ndef f():\n    pass\n\n\n# {END}\n\n\nb = 2\n",
            "tests/last.py": f"a = 1\n\n\n# {BEGIN}\ndef f():\n    pass\n\n\n# {END}\n",
            "tests/mid.py": (
                f"class A:\n    x = 1\n\n    # {BEGIN}\n    y = 2\n\n    # {END}\n\n\nz = 3\n"
            ),
            "pyproject.toml": f'layers = [\n    "a",\n    # {BEGIN}\n    "b",\n    # {END}\n]\n',
            "notes.md": f"Markers are `{BEGIN}` and `{END}` comments.\n",
            "logo.png": "\0binary " + BEGIN,
        },
    )

    done = remove_demo(tmp_path)

    assert done.returncode == 0, done.stderr
    assert tree(tmp_path) == {
        "README.md": "Intro.\n\nMore.\n",
        "app/cli.py": "a = 1\n\n\nb = 2\n",
        "tests/last.py": "a = 1\n",
        "tests/mid.py": "class A:\n    x = 1\n\n\nz = 3\n",
        "app/api/router.py": "a = 1\nc = 3\n",
        "app/user/router.py": "router = 2\n",
        "logo.png": "\0binary " + BEGIN,
        "notes.md": f"Markers are `{BEGIN}` and `{END}` comments.\n",
        "pyproject.toml": 'layers = [\n    "a",\n]\n',
    }


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    write(tmp_path, {"app/task/x.py": "", "a.py": f"a = 1\n# {BEGIN}\nb = 2\n# {END}\n"})
    assert remove_demo(tmp_path).returncode == 0
    once = tree(tmp_path)

    again = remove_demo(tmp_path)

    assert again.returncode == 0
    assert tree(tmp_path) == once == {"a.py": "a = 1\n"}


def test_unbalanced_or_nested_markers_fail_and_touch_nothing(tmp_path: Path) -> None:
    files = {
        "app/flag/x.py": "",
        "open.py": f"a = 1\n# {BEGIN}\nb = 2\n",
        "close.md": f"a\n<!-- {END} -->\n",
        "nested.yml": f"# {BEGIN}\na: 1\n# {BEGIN}\nb: 2\n# {END}\n",
        "fine.py": f"# {BEGIN}\nb = 2\n# {END}\n",
    }
    write(tmp_path, files)

    done = remove_demo(tmp_path)

    assert done.returncode == 1
    assert "open.py:2: demo:begin without a demo:end" in done.stderr
    assert "close.md:2: demo:end without a demo:begin" in done.stderr
    assert "nested.yml:3: demo:begin inside the block opened at 1" in done.stderr
    assert tree(tmp_path) == files
