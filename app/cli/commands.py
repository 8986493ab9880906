"""Admin commands: `uv run python -m app.cli --help`.

One typer app, `cli`; each command is a function decorated with `@cli.command()` that imports what
it needs inside its body, so importing this module builds no app and touches no server. Commands
that write go through the API's own dependency functions and services (`app/cli/provisioning.py`,
`app/cli/seed.py`) in the API's own transaction (`app/cli/running.py`); a failure is one line on
stderr and exit status 1.
"""

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

cli = typer.Typer(
    name="dependable",
    help="Dependable admin commands.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Markdown: a docstring's paragraphs are rewrapped to the terminal, not broken where the
    # source lines end.
    rich_markup_mode="markdown",
)


@cli.callback()
def main() -> None:
    """Dependable admin commands (settings come from the environment and `.env`)."""
    from app.cli.running import default_app_env

    default_app_env()  # APP_ENV set nowhere means development


def _write(content: str, output: Path | None, summary: str) -> None:
    """`content` to standard output, or to the file `output` (saying so on stderr)."""
    if output is None:
        typer.echo(content, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(content, encoding="utf-8")
    typer.echo(f"Wrote {output} ({summary})", err=True)


class GraphFormat(enum.StrEnum):
    TEXT = "text"
    MERMAID = "mermaid"
    JSON = "json"


@cli.command()
def depgraph(
    route: Annotated[
        str | None,
        typer.Option(help='Only this route, as "METHOD PATH", e.g. "POST /api/v1/tenants".'),
    ] = None,
    output_format: Annotated[
        GraphFormat,
        typer.Option(
            "--format",
            help="text: an indented tree per route; mermaid: Markdown with a Mermaid flowchart "
            "per route (what docs/dependency-graph.md holds); json: a list of routes with "
            "nested node trees.",
        ),
    ] = GraphFormat.TEXT,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Print the dependency graph of every route (or one), read from FastAPI's own tree."""
    # Building the app needs settings (APP_ENV defaults to development, see `main`); creating
    # the app opens no connection: that happens in the lifespan.
    from app.cli import depgraph as graph

    graphs = graph.collect_routes(graph.build_app())
    if route is not None:
        try:
            graphs = [graph.find_route(graphs, route)]
        except LookupError as error:
            raise typer.BadParameter(str(error), param_hint="--route") from None
    renderers = {
        GraphFormat.TEXT: graph.render_text,
        GraphFormat.MERMAID: graph.render_markdown,
        GraphFormat.JSON: graph.render_json,
    }
    _write(renderers[output_format](graphs), output, f"{len(graphs)} routes")


@cli.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Print the OpenAPI document (JSON) of the app `create_app()` builds; connects to nothing."""
    from app.cli.running import reporting_errors

    with reporting_errors():  # building the app reads the settings, which may be invalid
        from app.main import create_app

        document = create_app().openapi()
    content = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    _write(content, output, f"{len(document.get('paths', {}))} paths")


PasswordOption = Annotated[
    str,
    typer.Option(
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Prompted for (hidden, twice) when omitted, which keeps it out of the shell's "
        "history and the process list.",
    ),
]


@cli.command("create-tenant")
def create_tenant(
    name: Annotated[str, typer.Option(help="The tenant's display name.")],
    slug: Annotated[
        str,
        typer.Option(help="3-63 lowercase letters, digits and hyphens; the X-Tenant value."),
    ],
    email: Annotated[str, typer.Option(help="The owner's email, their login.")],
    full_name: Annotated[str, typer.Option(help="The owner's full name.")],
    password: PasswordOption,
) -> None:
    """Create a tenant and its owner, as POST /api/v1/tenants does (same schema, service and
    transaction)."""
    from app.cli import provisioning
    from app.cli.running import reporting_errors, run, validated
    from app.tenant.schemas import SignUpRequest

    with reporting_errors():
        request = validated(
            SignUpRequest,
            name=name,
            slug=slug,
            email=email,
            password=password,
            full_name=full_name,
        )
    signup = run(
        lambda settings, resources: provisioning.create_tenant(settings, resources, request)
    )
    typer.echo(
        f"Created tenant {signup.tenant.slug!r} ({signup.tenant.id}) "
        f"with owner {signup.owner.email} ({signup.owner.id})."
    )


class NewUserRole(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


@cli.command("create-user")
def create_user(
    tenant: Annotated[str, typer.Option(help="The tenant's slug.")],
    email: Annotated[str, typer.Option(help="The user's email, their login in this tenant.")],
    full_name: Annotated[str, typer.Option(help="The user's full name.")],
    role: Annotated[NewUserRole, typer.Option(help="The user's role.")],
    password: PasswordOption,
) -> None:
    """Add a user to a tenant, as POST /api/v1/users does (same schema, service and rules).

    The command acts as the tenant's first active owner (the earliest created), so the service's
    role rules see an owner: admins may be created as well as members and viewers.
    """
    from app.cli import provisioning
    from app.cli.running import reporting_errors, run, validated
    from app.user.schemas import UserCreate

    with reporting_errors():
        request = validated(
            UserCreate, email=email, password=password, full_name=full_name, role=role.value
        )
    created = run(
        lambda settings, resources: provisioning.create_user(settings, resources, tenant, request)
    )
    typer.echo(
        f"Created {created.user.role.value} {created.user.email} ({created.user.id}) in tenant "
        f"{created.tenant.slug!r}, acting as owner {created.actor.email}."
    )


@cli.command("purge-idempotency-keys")
def purge_idempotency_keys() -> None:
    """Delete the idempotency keys older than IDEMPOTENCY__TTL_SECONDS, in every tenant.

    Expired keys are already ignored (a new request takes its key over); this only reclaims
    their space. Run it from cron or a scheduler, daily is plenty.
    """
    from app.cli.running import run, transaction
    from app.core.config import Settings
    from app.core.resources import Resources
    from app.idempotency.repository import ExpiredIdempotencyKeys

    async def purge(settings: Settings, resources: Resources) -> int:
        async with transaction(resources) as session:
            keys = ExpiredIdempotencyKeys(session)
            return await keys.purge(ttl_seconds=settings.idempotency.ttl_seconds)

    deleted = run(purge)
    typer.echo(f"Deleted {deleted} expired idempotency keys.")


@cli.command("create-database")
def create_database() -> None:
    """Create the database the migrations run in (DATABASE__MIGRATION_URL, else DATABASE__URL)
    if it does not exist yet, connecting as that URL's user to the `postgres` database.

    `make migrate` runs it before `alembic upgrade heads`, so a first migration works on a
    server that has no database yet. It says nothing when the database exists.
    """
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    from app.cli.running import fail, reporting_errors
    from app.core.config import load_settings
    from app.core.db import create_database_if_missing

    with reporting_errors():
        owner_url = load_settings().database.owner_url
    target = make_url(owner_url)
    where = f"{target.host or 'localhost'}:{target.port or 5432}"
    try:
        created = asyncio.run(create_database_if_missing(owner_url))
    except (OSError, asyncpg.PostgresError) as error:  # unreachable, refused, not allowed
        fail(
            f"cannot create the database {target.database!r} as {target.username!r} at "
            f"{where}: {error or type(error).__name__}"
        )
    if created:
        typer.echo(f"Created the database {target.database!r} at {where}.")


@cli.command("new-domain")
def new_domain(
    name: Annotated[
        str, typer.Argument(help="Singular, lowercase snake_case: invoice, line_item.")
    ],
    fields: Annotated[
        str | None,
        typer.Option(
            help='NAME:TYPE pairs, e.g. "title:str due:date? amount:int"; TYPE is one of str, '
            "text, int, bool, date, datetime, decimal, and a trailing ? makes the field "
            "optional (nullable). Without it, one field: name:str."
        ),
    ] = None,
    root: Annotated[Path, typer.Option(help="The repository to write into.")] = Path(),
) -> None:
    """Scaffold a tenant-owned resource in the house style (CONTRIBUTING.md).

    Writes app/NAME/ (list, create, read, update and delete under /api/v1), its Alembic
    revision (table, tenant foreign key, indexes, row-level security) and tests/NAME/, and
    registers the router, the models and the import-contract layer. Refuses a name that a
    domain, a table, Python or the generated code already uses; a refusal writes nothing.
    """
    from app.cli import new_domain as generator
    from app.cli.running import fail

    try:
        generated = generator.generate(root, name, fields)
    except generator.NewDomainError as error:
        fail(str(error))
    for path in generated.created:
        typer.echo(f"created  {path}")
    for path in generated.changed:
        typer.echo(f"changed  {path}")
    if not generated.formatted:
        typer.echo("ruff was not found: run `make fmt` to sort the imports and format.", err=True)
    typer.echo(
        "Next: `make migrate` (your database), `make depgraph` (docs/dependency-graph.md), "
        f"`make test`; then give app/{name}/ its rules, and its tests beside the generated ones."
    )


# demo:begin: the demo's command, deleted without the demo (scripts/template/remove_demo.py)
@cli.command("seed-demo")
def seed_demo(
    tasks: Annotated[
        int, typer.Option(min=0, max=100_000, help="How many demo tasks should exist.")
    ] = 3000,
) -> None:
    """Create what is missing of the demo tenant `demo`: one user of every role, six projects
    and TASKS tasks (varied statuses, assignees, due dates). Running it again changes nothing.

    The demo passwords are printed at the end, so it refuses to run outside APP_ENV=development
    or test.
    """
    from app.cli import seed
    from app.cli.running import run
    from app.cli.seed_report import print_seed_report, seed_progress_bar

    with seed_progress_bar() as progress:
        report = run(
            lambda settings, resources: seed.seed_demo(
                settings, resources, tasks=tasks, progress=progress
            )
        )
    print_seed_report(report)


# demo:end


if __name__ == "__main__":
    cli()
