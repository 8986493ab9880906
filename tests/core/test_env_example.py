""".env.example lists every setting the app reads, each with a comment, and nothing it doesn't."""

from pathlib import Path

from pydantic import BaseModel

from app.core.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def setting_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= setting_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def documented() -> dict[str, str]:
    """Each variable in .env.example with the comment above it: the comment line right before
    it, or the one heading its block of consecutive variables."""
    found: dict[str, str] = {}
    comment = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        if not line.strip():
            comment = ""
        elif line.startswith("#"):
            comment = line
        elif "=" in line:
            found[line.split("=", 1)[0]] = comment
    return found


def test_every_setting_is_documented_with_a_comment() -> None:
    entries = documented()
    expected = setting_names(Settings)
    missing = sorted(expected - entries.keys())
    assert missing == []
    # A group of related variables may share one comment (e.g. a rate limit's LIMIT and PERIOD).
    uncommented = sorted(name for name in expected if not entries[name])
    assert uncommented == []


def test_nothing_documented_that_the_app_does_not_read() -> None:
    assert sorted(documented().keys() - setting_names(Settings)) == []
