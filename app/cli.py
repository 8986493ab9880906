"""Admin commands: `uv run python -m app.cli --help`.

One typer app, `cli`; each command is a function decorated with `@cli.command()` that imports what
it needs inside its body, so importing this module builds no app and touches no server.
"""

import enum
import os
from pathlib import Path
from typing import Annotated

import typer

cli = typer.Typer(
    name="dependable",
    help="Dependable admin commands.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@cli.callback()
def main() -> None:
    """Dependable admin commands (settings come from the environment and `.env`)."""


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
    # Building the app needs settings; outside a deployment the development defaults will do
    # (creating the app opens no connection: that happens in the lifespan).
    os.environ.setdefault("APP_ENV", "development")
    from app.api import depgraph as graph

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
    content = renderers[output_format](graphs)
    if output is None:
        typer.echo(content, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(content, encoding="utf-8")
    typer.echo(f"Wrote {output} ({len(graphs)} routes)", err=True)


if __name__ == "__main__":
    cli()
