"""Turn a rendered copy of this repository into a new service: copier's post-generation task.

    python3 finalize.py --operation=copy --project-name="Invoice Hub" --project-slug=invoice_hub \
        --description=... --author=... --tenant-resolver=header --include-demo=false \
        --template=TEMPLATE_DIR PROJECT_DIR

copier.yml runs it after every render: `copier copy`, and during `copier update` for the old and
the new template version as well as for the project itself, so that the three-way merge compares
finished projects. Every step is therefore idempotent and touches nothing a developer wrote that
the template does not also hold. The steps, in order:

1. without the demo: `remove_demo.py` (beside this file) deletes the demo domain and strips the
   `demo:begin`/`demo:end` blocks; missing, it is an error, never a silent skip;
2. every `template:begin` .. `template:end` block (marker lines included) goes: what only the
   template repository needs (`make template-check`, its CI phase, the README's copier commands);
3. names: `Dependable` becomes the project name, `dependable` the slug, `DEPENDABLE` the slug in
   capitals; Kubernetes manifests and their test take the slug with hyphens (DNS names), as does
   uv.lock (uv writes the project's name normalized);
4. settings and metadata: TENANCY__RESOLVER in .env.example and the Kubernetes config, the
   description and author in pyproject.toml, the description as the README's first paragraph;
5. `.env`, from .env.example, with a freshly generated AUTH__SECRET_KEY and API__CURSOR_SECRET,
   only when there is none (an update never replaces a developer's .env; .env is git-ignored);
6. without the demo: docs/dependency-graph.md regenerated from the app (`uv run`), since the
   demo's routes are gone (a test checks that the file is current);
7. after `copier copy`: the next two commands.

Stdlib only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import io
import re
import secrets
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

HERE = Path(__file__).resolve().parent

LINE_LENGTH = 100  # ruff's line-length in pyproject.toml

TEMPLATE_MARKER = re.compile(r"^\s*(?:#|<!--)\s*template:(begin|end)\b")

# Tool state and dependencies: never read or rewritten.
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}
SKIPPED_DIRS |= {".pytest_cache", ".import_linter_cache", ".schemathesis"}

# copier's own record (it names the template's location, which may well contain "dependable"),
# and the developer's settings.
KEPT_AS_IS = {Path(".copier-answers.yml"), Path(".env")}

# Where the slug names Kubernetes objects (DNS labels: no underscore) or a normalized package.
DNS_NAMED = ("deploy/kubernetes/", "tests/deploy/", "uv.lock")

# Secrets .env gets fresh (.env.example holds published development values).
GENERATED_SECRETS = ("AUTH__SECRET_KEY", "API__CURSOR_SECRET")


def text_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED_DIRS for part in relative.parts) or relative in KEPT_AS_IS:
            continue
        if path.is_file() and not path.is_symlink() and read_text(path) is not None:
            files.append(path)
    return files


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary file (not UTF-8, or holding NUL)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def write_if_changed(path: Path, text: str) -> bool:
    if path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def strip_template_blocks(text: str, name: str) -> str:
    kept: list[str] = []
    opened: int | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = TEMPLATE_MARKER.match(line)
        kind = marker[1] if marker else None
        if kind == "begin":
            if opened is not None:
                raise SystemExit(f"finalize: {name}:{number}: template:begin inside another")
            opened = number
        elif kind == "end":
            if opened is None:
                raise SystemExit(f"finalize: {name}:{number}: template:end without a begin")
            opened = None
        elif opened is None:
            kept.append(line)
    if opened is not None:
        raise SystemExit(f"finalize: {name}:{opened}: template:begin without a template:end")
    return "".join(kept)


def rename(text: str, relative: str, name: str, slug: str) -> str:
    lower = slug.replace("_", "-") if relative.startswith(DNS_NAMED) else slug
    text = text.replace("Dependable", name)
    text = text.replace("DEPENDABLE", slug.upper())
    return text.replace("dependable", lower)


def long_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) if len(line) > LINE_LENGTH]


def wrap_at_space(line: str, indent: str) -> list[str]:
    """`line` cut at its last space that keeps the first part within the limit; the rest follows
    on lines indented with `indent` (cut again while too long). Unchanged when no space fits."""
    parts = []
    while len(line) > LINE_LENGTH:
        cut = line.rfind(" ", len(indent) + 1, LINE_LENGTH + 1)
        if cut <= len(indent) or not line[:cut].strip():
            break
        parts.append(line[:cut].rstrip())
        line = indent + line[cut + 1 :]
    return [*parts, line]


def fit_python(text: str) -> str:
    """Python lines the new names made too long (ruff's E501), once `ruff format` has done what it
    can: a whole-line comment is wrapped, a line inside a triple-quoted string (a docstring, an
    SQL or HTML text) is wrapped at a space, any other line gets `# noqa: E501` (a string
    literal, mostly). Layout only: the code is the same."""
    if not long_lines(text):
        return text
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    inside_string: set[int] = set()  # lines a multi-line string continues onto or spans
    string_end: dict[int, int] = {}  # a multi-line string's first line -> its last
    for token in tokens:
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            inside_string.update(range(token.start[0], token.end[0] + 1))
            string_end[token.start[0]] = token.end[0]
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    for number, line in enumerate(lines, 1):
        body = line.rstrip("\n")
        ending = line[len(body) :]
        if len(body) <= LINE_LENGTH:
            out.append(line)
            continue
        indent = body[: len(body) - len(body.lstrip())]
        if number in inside_string:
            out.extend(part + "\n" for part in wrap_at_space(body, indent))
            out[-1] = out[-1][:-1] + ending
        elif body.lstrip().startswith("#"):
            parts = wrap_at_space(body, indent + "# ")
            out.extend(part + "\n" for part in parts)
            out[-1] = out[-1][:-1] + ending
        elif "noqa" not in body:
            out.append(body + "  # noqa: E501" + ending)
        else:
            out.append(line)
    return "".join(out)


def run(command: list[str], cwd: Path, *, check: bool = True) -> None:
    """Our own fixed commands (uv, ruff, remove_demo.py), in the rendered project."""
    subprocess.run(command, cwd=cwd, check=check)  # noqa: S603 - no shell, fixed arguments


def ruff(root: Path, *arguments: str) -> None:
    uv = shutil.which("uv")
    if uv is None:
        print(f"finalize: uv not found; run `uv run ruff {' '.join(arguments)}` yourself")
        return
    run([uv, "run", "--frozen", "--quiet", "ruff", *arguments], root, check=False)


def tidy_python(root: Path, changed: list[Path]) -> None:
    """Names of another length move imports out of order and lines past the limit: ruff sorts
    and formats the changed files, then `fit_python` handles what the formatter leaves."""
    files = [str(path.relative_to(root)) for path in changed if path.suffix == ".py"]
    if not files:
        return
    ruff(root, "check", "--quiet", "--fix-only", "--select", "I", *files)
    ruff(root, "format", "--quiet", *files)
    for relative in files:
        path = root / relative
        write_if_changed(path, fit_python(path.read_text(encoding="utf-8")))
    # E501 spares a line whose overflow is one word (a URL): its new noqa is unused.
    ruff(root, "check", "--quiet", "--fix-only", "--fixable", "RUF100", *files)


def set_line(text: str, pattern: str, line: str) -> str:
    """`text` with the lines matching `pattern` (a whole-line regex) replaced by `line`."""
    return re.sub(pattern, lambda _: line, text, flags=re.MULTILINE)


def toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def settings_and_metadata(root: Path, args: argparse.Namespace) -> None:
    resolver = f"TENANCY__RESOLVER={args.tenant_resolver}"
    for relative in (".env.example", "deploy/kubernetes/base/config.env"):
        path = root / relative
        if path.exists():
            text = set_line(path.read_text(encoding="utf-8"), r"^TENANCY__RESOLVER=.*$", resolver)
            if args.tenant_resolver == "subdomain" and relative == ".env.example":
                # acme.localhost:8000 reaches the local server (browsers resolve *.localhost to
                # the loopback, and development allows those hosts); production sets its own.
                text = set_line(text, r"^TENANCY__BASE_DOMAIN=$", "TENANCY__BASE_DOMAIN=localhost")
            write_if_changed(path, text)

    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = set_line(text, r"^description = .*$", f"description = {toml_string(args.description)}")
    authors = ""
    if args.author.strip():
        match = re.fullmatch(r"\s*(.*?)\s*<([^>]+)>\s*", args.author)
        person = (match[1], match[2]) if match else (args.author.strip(), "")
        fields = [f"name = {toml_string(person[0])}"] if person[0] else []
        fields += [f"email = {toml_string(person[1])}"] if person[1] else []
        authors = f"authors = [{{ {', '.join(fields)} }}]\n"
    text = re.sub(r"^authors = .*\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"^(description = .*\n)", lambda m: m[1] + authors, text, count=1, flags=re.M)
    write_if_changed(pyproject, text)

    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    # The title, then the first paragraph: the service's own description replaces it.
    text = re.sub(
        r"\A(# [^\n]*\n\n)(?:[^\n]+\n)+", lambda m: m[1] + args.description + "\n", text, count=1
    )
    write_if_changed(readme, text)


def write_env(root: Path) -> bool:
    env = root / ".env"
    if env.exists():
        return False
    text = (root / ".env.example").read_text(encoding="utf-8")
    for key in GENERATED_SECRETS:
        text = set_line(text, rf"^{key}=.*$", f"{key}={secrets.token_urlsafe(48)}")
    env.write_text(text, encoding="utf-8")
    env.chmod(0o600)
    return True


def remove_demo(root: Path, template: Path) -> None:
    script = template / "scripts/template/remove_demo.py"
    if not script.is_file():
        raise SystemExit(f"finalize: {script} is missing: cannot take the demo out")
    run([sys.executable, str(script), str(root)], root)


def regenerate_dependency_graph(root: Path) -> None:
    uv = shutil.which("uv")
    command = "uv run --frozen python -m app.cli depgraph --format mermaid"
    if uv is None:
        print(f"finalize: uv not found; run `{command} --output docs/dependency-graph.md`")
        return
    depgraph = ["depgraph", "--format", "mermaid", "--output", "docs/dependency-graph.md"]
    run([uv, "run", "--frozen", "--quiet", "python", "-m", "app.cli", *depgraph], root)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operation", default="copy")
    parser.add_argument("--project-name", required=True)
    parser.add_argument("--project-slug", required=True)
    parser.add_argument("--description", default="")
    parser.add_argument("--author", default="")
    parser.add_argument("--tenant-resolver", choices=("header", "subdomain"), default="header")
    parser.add_argument("--include-demo", choices=("true", "false", "True", "False"))
    parser.add_argument("--template", type=Path, default=HERE.parent.parent)
    parser.add_argument("project", type=Path, nargs="?", default=Path("."))
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    root = args.project.resolve()
    include_demo = args.include_demo in ("true", "True")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", args.project_slug):
        raise SystemExit(f"finalize: {args.project_slug!r} is not a valid project slug")

    if not include_demo:
        remove_demo(root, args.template.resolve())
    renamed_files: list[Path] = []
    for path in text_files(root):
        relative = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        if "template:" in text:
            text = strip_template_blocks(text, relative)
        renamed = rename(text, relative, args.project_name, args.project_slug)
        if write_if_changed(path, renamed) and renamed != text:
            renamed_files.append(path)
    if not include_demo:
        # Blocks taken out of import lists can leave them out of order: tidy every module.
        tidy_python(root, [path for path in text_files(root) if path.suffix == ".py"])
    elif args.project_slug != "dependable" or args.project_name != "Dependable":
        tidy_python(root, renamed_files)
    settings_and_metadata(root, args)
    wrote_env = write_env(root)
    if not include_demo:
        regenerate_dependency_graph(root)

    if args.operation == "copy":
        if wrote_env:
            print(f".env written from .env.example, with fresh {' and '.join(GENERATED_SECRETS)}")
        print("\nNext:")
        print(f"  cd {root}")
        print("  docker compose up --build   # the service: http://localhost:8000/docs")
        print("  make test                   # the test suite (PostgreSQL and Redis)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
