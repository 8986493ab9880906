"""`python -m app.cli new-domain NAME`: a tenant-owned resource in the house style
(CONTRIBUTING.md).

It writes `app/NAME/` (models, schemas, exceptions, repository, service, dependencies, router),
an Alembic revision chained onto the current head (the table, its tenant foreign key, its keyset
index and its row-level security policy, through migrations/security.py), and `tests/NAME/` (API
tests for every route, the routes over in-memory collaborators, and the factories whose `SEED`
brings the domain into the security suites). It registers the domain where the code gathers
domains: its router in `DOMAIN_ROUTERS` (app/api/router.py), its models in migrations/models.py,
its package in the top features layer of the import contracts (pyproject.toml), and the statuses
its routes may answer beyond what the OpenAPI document says in the contract test's configuration
(tests/contract/schemathesis.toml).

The templates are plain files under app/cli/templates/new_domain/, filled in by
`string.Template` (`${Class}`, `${name}`...); what depends on the fields (columns, schema fields,
their imports, sample values) is built here. Every check and every file is done in memory before
the first write, so a refusal leaves the repository as it was. Then ruff lays the files out
(imports sorted, formatted), as Alembic's post-write hooks do for its revisions.
"""

import ast
import builtins
import functools
import json
import keyword
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates" / "new_domain"
# PostgreSQL cuts identifiers at 63 characters: the longest the table's names make,
# `ix_<plural>_tenant_id_created_at_id`, must fit (and the templates' prose must fit 100 columns).
MAX_NAME_LENGTH = 30
MAX_FIELD_LENGTH = 40
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Columns every generated table has already (TenantOwned, Versioned, OrderedTimestamps).
_OWN_COLUMNS = {"id", "tenant_id", "version", "created_at", "updated_at"}


class NewDomainError(ValueError):
    """A name or field spec refused, or a repository the generator cannot register in; the
    message is the one line the command prints."""


@dataclass(frozen=True)
class Kind:
    """A field type of `--fields`: how it is declared in each place it appears."""

    python: str  # in the model and the read schema
    request: str  # in the create and update schemas (app/http/schemas.py): it fits the column
    column: str | None  # the model's column type, where `Mapped[python]` alone would not say it
    migration: str
    samples: tuple[object, object]  # JSON values a test creates with, then updates to


KINDS = {
    "str": Kind("str", "Name", "String(200)", "sa.String(length=200)", ("Alpha", "Beta")),
    "text": Kind("str", "Description", "Text", "sa.Text()", ("Some text", "Other text")),
    "int": Kind("int", "Integer", None, "sa.Integer()", (42, 43)),
    "bool": Kind("bool", "Boolean", None, "sa.Boolean()", (True, False)),
    "date": Kind("date", "Date", None, "sa.Date()", ("2030-01-31", "2030-02-28")),
    "datetime": Kind(
        "datetime",
        "Timestamp",
        None,
        "sa.DateTime(timezone=True)",
        ("2030-01-31T12:00:00Z", "2030-02-28T08:30:00Z"),
    ),
    "decimal": Kind(
        "Decimal",
        "FixedPoint",
        "Numeric(12, 2)",
        "sa.Numeric(precision=12, scale=2)",
        ("12.50", "99.95"),
    ),
}
# Where the Python types of the kinds come from (the others are builtins).
_PYTHON_IMPORTS = {
    "date": "from datetime import date",
    "datetime": "from datetime import datetime",
    "Decimal": "from decimal import Decimal",
}


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    optional: bool  # `name:type?`: nullable, may be left out on create and cleared on update

    def python_type(self, base: str) -> str:
        return f"{base} | None" if self.optional else base


@dataclass(frozen=True)
class Domain:
    name: str
    fields: tuple[Field, ...]

    @property
    def plural(self) -> str:
        return pluralize(self.name)

    def placeholders(self) -> dict[str, str]:
        words, plural_words = self.name.replace("_", " "), self.plural.replace("_", " ")
        return {
            "name": self.name,
            "NAME": self.name.upper(),
            "Class": _camel(self.name),
            "Class_plural": _camel(self.plural),
            "plural": self.plural,
            "PLURAL": self.plural.upper(),
            "path": self.plural.replace("_", "-"),
            "code": self.name.replace("_", "-"),
            "words": words,
            "Words": words.capitalize(),
            "words_plural": plural_words,
            "Words_plural": plural_words.capitalize(),
        }


def pluralize(name: str) -> str:
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return f"{name}es"
    if name.endswith("y") and name[-2:-1] not in ("a", "e", "i", "o", "u", "_"):
        return f"{name[:-1]}ies"
    return f"{name}s"


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


# The parse --------------------------------------------------------------------------------------


def parse_fields(spec: str | None) -> tuple[Field, ...]:
    """`"title:str due:date? amount:int"` (spaces or commas between them); without a spec, one
    required `name:str`."""
    if spec is None:
        return (Field("name", KINDS["str"], optional=False),)
    fields: list[Field] = []
    for item in spec.replace(",", " ").split():
        name, colon, type_ = item.partition(":")
        if not colon or not name or not type_:
            raise NewDomainError(f"field {item!r}: write it NAME:TYPE, e.g. title:str or due:date?")
        optional = type_.endswith("?")
        type_ = type_.removesuffix("?")
        if type_ not in KINDS:
            raise NewDomainError(
                f"field {name!r}: unknown type {type_!r} (one of {', '.join(KINDS)}; "
                "end it with ? for an optional field)"
            )
        _check_field_name(name, [field.name for field in fields])
        fields.append(Field(name, KINDS[type_], optional))
    if not fields:
        raise NewDomainError('--fields is empty: give at least one NAME:TYPE, e.g. "title:str"')
    return tuple(fields)


def _check_field_name(name: str, taken: list[str]) -> None:
    # Imported here: the checks need the model and schema bases, the parse of a spec does not.
    from pydantic import BaseModel

    from app.core.models import Base

    if keyword.iskeyword(name):
        raise NewDomainError(f"field {name!r} is a Python keyword")
    if not _SNAKE.match(name):
        raise NewDomainError(f"field {name!r}: use lowercase snake_case, starting with a letter")
    if len(name) > MAX_FIELD_LENGTH:
        raise NewDomainError(f"field {name!r} is longer than {MAX_FIELD_LENGTH} characters")
    if name in _OWN_COLUMNS:
        raise NewDomainError(
            f"field {name!r}: every table has it already ({_sorted(_OWN_COLUMNS)})"
        )
    if hasattr(BaseModel, name) or hasattr(Base, name):
        raise NewDomainError(f"field {name!r} would shadow an attribute of the schemas or models")
    if name in taken:
        raise NewDomainError(f"field {name!r} is given twice")


def check_name(root: Path, name: str) -> None:
    """Refuse a domain name that is not a plain singular snake_case identifier, that Python or
    the generated code already uses, or that an existing domain, test package or table has."""
    if not name:
        raise NewDomainError(
            "give the domain a name: new-domain invoice (make domain name=invoice)"
        )
    if keyword.iskeyword(name):
        raise NewDomainError(f"{name!r} is a Python keyword: choose another name")
    if not _SNAKE.match(name):
        raise NewDomainError(
            f"{name!r}: a domain name is lowercase snake_case, starting with a letter "
            "(invoice, line_item)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise NewDomainError(f"{name!r} is longer than {MAX_NAME_LENGTH} characters")
    plural = pluralize(name)
    for word in (name, plural):
        if hasattr(builtins, word):
            raise NewDomainError(f"{word!r} would shadow the Python builtin: choose another name")
        if word in generated_identifiers():
            raise NewDomainError(
                f"{word!r} is a name the generated code uses for something else "
                "(app/cli/templates/new_domain): choose another name"
            )
    for folder in (f"app/{name}", f"tests/{name}"):
        if (root / folder).exists():
            raise NewDomainError(
                f"{name!r} collides with the existing {folder}/: choose another name"
            )
    if plural in existing_tables(root):
        raise NewDomainError(f"the table {plural!r} exists already: choose another name")


def existing_tables(root: Path) -> set[str]:
    declared = re.compile(r"""__tablename__\s*=\s*["'](\w+)["']""")
    return {
        table
        for models in (root / "app").glob("*/models.py")
        for table in declared.findall(models.read_text(encoding="utf-8"))
    }


@functools.cache
def generated_identifiers() -> frozenset[str]:
    """Every name the templates bind or refer to (imports, functions, parameters, variables),
    read from the templates themselves: a domain named like one of them would clash with it
    (`etag: EtagDep` would hide the `etag` function its handler calls)."""
    sentinel = Domain("zzsentinel", (Field("zzfield", KINDS["str"], optional=False),))
    names: set[str] = set()
    for text in _render_templates(sentinel, revision="0", down_revision=None).values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
    return frozenset(name for name in names if "zz" not in name.lower())


# The render -------------------------------------------------------------------------------------


def _sorted(names: set[str]) -> str:
    return ", ".join(sorted(names))


def _python_literal(value: object) -> str:
    """A JSON sample as Python source (double-quoted strings, as ruff format writes them)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _body(fields: tuple[Field, ...], sample: int) -> str:
    items = ", ".join(
        f"{json.dumps(field.name)}: {_python_literal(field.kind.samples[sample])}"
        for field in fields
    )
    return "{" + items + "}"


def _update_doc(fields: tuple[Field, ...]) -> str:
    """The update schema's docstring, indented and wrapped as ruff wants it."""
    optional = [f"`{field.name}`" for field in fields if field.optional]
    if not optional:
        text = "Only the fields sent change; `null` is refused."
    elif len(optional) == len(fields):
        text = "Only the fields sent change; any may be set to null (cleared)."
    else:
        named = " and ".join(
            [", ".join(optional[:-1]), optional[-1]] if len(optional) > 1 else optional
        )
        text = (
            f"Only the fields sent change. {named} may be set to null (cleared); "
            "the others may not."
        )
    lines = textwrap.wrap(f'"""{text}"""', width=100 - 4, break_on_hyphens=False)
    return "\n".join(f"    {line}" for line in lines)


def _field_placeholders(domain: Domain) -> dict[str, str]:
    """What the templates say about the fields: their declarations in the model, the schemas and
    the migration, the imports those need, and sample bodies for the tests."""
    fields = domain.fields
    pythons = {field.kind.python for field in fields} & _PYTHON_IMPORTS.keys()
    columns = {field.kind.column.split("(")[0] for field in fields if field.kind.column}
    http = {field.kind.request for field in fields} | {"RequestBody", "Schema"}
    if not all(field.optional for field in fields):
        http.add("Omittable")
    model, create, update, read, migration = [], [], [], [], []
    for field in fields:
        kind, name = field.kind, field.name
        column = f" = mapped_column({kind.column})" if kind.column else ""
        model.append(f"    {name}: Mapped[{field.python_type(kind.python)}]{column}")
        request = field.python_type(kind.request)
        create.append(f"    {name}: {request}" + (" = None" if field.optional else ""))
        update.append(
            f"    {name}: {request if field.optional else f'Omittable[{request}]'} = None"
        )
        read.append(f"    {name}: {field.python_type(kind.python)}")
        migration.append(
            f'        sa.Column("{name}", {kind.migration}, nullable={field.optional}),'
        )
    names = [json.dumps(field.name) for field in fields]
    return {
        "python_imports": "\n".join(_PYTHON_IMPORTS[python] for python in sorted(pythons)),
        "sqlalchemy_names": ", ".join(["Index", *sorted(columns)]),
        "orm_names": "Mapped, mapped_column" if columns else "Mapped",
        "columns": "\n".join(model),
        "http_names": ", ".join(sorted(http)),
        "create_fields": "\n".join(create),
        "update_doc": _update_doc(fields),
        "update_fields": "\n".join(update),
        "read_fields": "\n".join(read),
        "migration_columns": "\n".join(migration),
        "create_body": _body(fields, 0),
        "update_body": _body(fields, 1),
        "field_names": f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})",
    }


# What goes where: template (under TEMPLATES) -> file (under the repository), `{name}` filled in.
FILES = {
    "app/models.py.tmpl": "app/{name}/models.py",
    "app/schemas.py.tmpl": "app/{name}/schemas.py",
    "app/exceptions.py.tmpl": "app/{name}/exceptions.py",
    "app/repository.py.tmpl": "app/{name}/repository.py",
    "app/service.py.tmpl": "app/{name}/service.py",
    "app/dependencies.py.tmpl": "app/{name}/dependencies.py",
    "app/router.py.tmpl": "app/{name}/router.py",
    "tests/factories.py.tmpl": "tests/{name}/factories.py",
    "tests/test_router.py.tmpl": "tests/{name}/test_router.py",
    "tests/test_router_in_memory.py.tmpl": "tests/{name}/test_router_in_memory.py",
}
PACKAGES = ("app/{name}/__init__.py", "tests/{name}/__init__.py")
MIGRATION_TEMPLATE = "migrations/revision.py.tmpl"
CONTRACT_TEMPLATE = "tests/schemathesis.toml.tmpl"


def _render(template: str, values: dict[str, str]) -> str:
    return Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)


def _render_templates(
    domain: Domain, *, revision: str, down_revision: str | None
) -> dict[str, str]:
    """Every new file, by its path in the repository."""
    moment = datetime.now(UTC)
    values = domain.placeholders() | _field_placeholders(domain)
    values |= {
        "revision": revision,
        "down_revision": down_revision or "",
        "down_revision_literal": json.dumps(down_revision) if down_revision else "None",
        "create_date": moment.isoformat(sep=" "),
    }

    def render(template: str) -> str:
        return _render(template, values)

    files = {path.format(name=domain.name): "" for path in PACKAGES}
    files |= {path.format(name=domain.name): render(template) for template, path in FILES.items()}
    migration = f"migrations/versions/{moment:%Y_%m_%d_%H%M}-{revision}_{domain.plural}.py"
    files[migration] = render(MIGRATION_TEMPLATE)
    return files


# The registration -------------------------------------------------------------------------------

_REVISION = re.compile(r"""^revision(?::[^=]*)?=\s*["'](\w+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?::[^=]*)?=(.*)$", re.MULTILINE)
_BRANCH_LABELS = re.compile(r"^branch_labels(?::[^=]*)?=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["'](\w+)["']""")


def migration_head(root: Path) -> str | None:
    """The head of the `spine` branch, which a new domain's revision revises; None when there are
    no revisions. Read from the revisions' `revision`, `down_revision` and `branch_labels` lines,
    as migrations/script.py.mako writes them. The spine is the revision labelled `spine` and those
    that descend from it; a branch of its own (the demo's, which depends on the spine and which no
    spine revision revises) is left alone. Without a `spine` label, every revision counts."""
    parents: dict[str, set[str]] = {}
    spine_root = None
    for script in (root / "migrations" / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        if not (revision := _REVISION.search(text)):
            continue
        down = _DOWN_REVISION.search(text)
        parents[revision[1]] = set(_QUOTED.findall(down[1])) if down else set()
        labels = _BRANCH_LABELS.search(text)
        if labels and "spine" in _QUOTED.findall(labels[1]):
            spine_root = revision[1]
    spine = set(parents) if spine_root is None else {spine_root}
    while grown := {r for r, up in parents.items() if up & spine and r not in spine}:
        spine |= grown
    heads = spine - {parent for revision in spine for parent in parents[revision]}
    if len(heads) > 1:
        raise NewDomainError(
            f"the migrations have {len(heads)} heads ({_sorted(heads)}): merge them first "
            "(uv run alembic merge heads)"
        )
    return heads.pop() if heads else None


def _register_router(text: str, domain: Domain) -> str:
    """app/api/router.py: import the router and add it to DOMAIN_ROUTERS."""
    tuple_ = re.search(r"^DOMAIN_ROUTERS\b[^=]*= \(\n(.*?)^\)", text, re.MULTILINE | re.DOTALL)
    imports = list(re.finditer(r"^from app\.\w+\.router import router as \w+\n", text, re.M))
    if tuple_ is None or not imports:
        raise NewDomainError(
            "app/api/router.py has no `DOMAIN_ROUTERS = (...)` tuple after router imports: "
            "cannot register the router"
        )
    entry = f"    {domain.name}_router,\n"
    text = text[: tuple_.end(1)] + entry + text[tuple_.end(1) :]
    line = f"from app.{domain.name}.router import router as {domain.name}_router\n"
    return text[: imports[-1].end()] + line + text[imports[-1].end() :]


def _register_models(text: str, domain: Domain) -> str:
    """migrations/models.py: import the models module, so `Base.metadata` has the table."""
    imports = list(re.finditer(r"^from app(\.\w+)* import models as \w+\n", text, re.MULTILINE))
    all_ = re.search(r"^__all__ = \[\n(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    if all_ is None or not imports:
        raise NewDomainError(
            "migrations/models.py has no `from app.x import models as x_models` imports and "
            "`__all__` list: cannot register the models"
        )
    names = [*re.findall(r'"(\w+)"', all_[1]), f"{domain.name}_models"]
    # isort's order, as ruff keeps `__all__`: constants, classes, then the rest.
    names.sort(key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    listed = "".join(f'    "{name}",\n' for name in names)
    text = text[: all_.start(1)] + listed + text[all_.end(1) :]
    line = f"from app.{domain.name} import models as {domain.name}_models\n"
    return text[: imports[-1].end()] + line + text[imports[-1].end() :]


def _register_layer(text: str, domain: Domain) -> str:
    """pyproject.toml: the package joins the top features layer of the `layers` contract, the one
    right under `app.api`: the new domain may use every feature below it, and nothing but the
    assembly imports it."""
    contracts = tomllib.loads(text).get("tool", {}).get("importlinter", {}).get("contracts", [])
    layers = next((c["layers"] for c in contracts if c.get("id") == "layers"), None)
    if not layers or "app.api" not in layers or layers[-1] == "app.api":
        raise NewDomainError(
            "pyproject.toml has no `layers` import contract with a layer under app.api: "
            "cannot add the package to the features layers"
        )
    top = layers[layers.index("app.api") + 1]
    quoted = json.dumps(top)
    if text.count(quoted) != 1:
        raise NewDomainError(f"pyproject.toml: cannot find the layer {quoted} exactly once")
    return text.replace(quoted, json.dumps(f"{top} | app.{domain.name}"))


def _register_contract(text: str, domain: Domain) -> str:
    """tests/contract/schemathesis.toml: the statuses the OpenAPI document cannot express as a
    rule of the request (412, an unissued cursor, a reused key), allowed for the new routes."""
    return text + _render(CONTRACT_TEMPLATE, domain.placeholders())


REGISTRATIONS = {
    "app/api/router.py": _register_router,
    "migrations/models.py": _register_models,
    "pyproject.toml": _register_layer,
    "tests/contract/schemathesis.toml": _register_contract,
}


# The command ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    created: list[str]
    changed: list[str]
    formatted: bool  # ruff was found and laid the Python files out


def plan(root: Path, name: str, fields_spec: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Every check, then every file's content: (new files, changed files), by path."""
    check_name(root, name)
    domain = Domain(name, parse_fields(fields_spec))
    revision = uuid.uuid4().hex[-12:]  # as `alembic revision` makes them
    created = _render_templates(domain, revision=revision, down_revision=migration_head(root))
    for path in created:
        if (root / path).exists():
            raise NewDomainError(f"{path} exists already")
    changed = {}
    for path, register in REGISTRATIONS.items():
        source = root / path
        if not source.is_file():
            raise NewDomainError(f"{path} is missing: is {root} the repository's root?")
        changed[path] = register(source.read_text(encoding="utf-8"), domain)
    return created, changed


def generate(root: Path, name: str, fields_spec: str | None) -> Generated:
    created, changed = plan(root, name, fields_spec)
    for path, text in {**created, **changed}.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    python = [path for path in [*created, *changed] if path.endswith(".py")]
    return Generated(list(created), list(changed), _lay_out(root, python))


def _lay_out(root: Path, paths: list[str]) -> bool:
    """Sort the imports and format with the project's ruff (`make fmt` does the same); False
    when there is no ruff to run."""
    beside_python = Path(sys.executable).parent / "ruff"
    ruff = str(beside_python) if beside_python.exists() else shutil.which("ruff")
    if ruff is None:
        return False
    for args in (["check", "--select", "I", "--fix", "--quiet"], ["format", "--quiet"]):
        done = subprocess.run(  # noqa: S603 - the project's ruff, fixed arguments
            [ruff, *args, *paths], cwd=root, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise NewDomainError(
                f"the files are written, but `ruff {args[0]}` failed: {done.stderr}"
            )
    return True
