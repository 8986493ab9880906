"""Every relative link in the repository's Markdown resolves to a file that exists, so moving code
cannot leave the docs pointing at nothing. (Anchors and external URLs are not checked.)"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def markdown_files() -> list[Path]:
    files = [*ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md"), *ROOT.glob("bench/**/*.md")]
    return sorted(files)


def relative_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    links = [match.group(1) for match in LINK.finditer(text)]
    return [
        link.split("#", 1)[0]
        for link in links
        if not re.match(r"^[a-z][a-z0-9+.-]*:", link) and not link.startswith("#")
    ]


def test_there_is_markdown_to_check() -> None:
    assert len(markdown_files()) >= 5


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    missing = [link for link in relative_links(path) if link and not (path.parent / link).exists()]
    assert missing == []
