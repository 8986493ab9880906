"""`python -m app.worker`: the outbox relay and housekeeping, until SIGTERM.
`python -m app.worker check [--ready]`: the orchestrator's probe, exit 0 or 1 (heartbeat.py)."""

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from app.core.config import Settings

worker = typer.Typer(
    name="worker",
    help="Dependable's worker: relays the outbox to Redis Streams and runs housekeeping.",
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _settings() -> "Settings":
    from pydantic import ValidationError

    from app.core.config import load_settings

    try:
        return load_settings()
    except ValidationError as error:
        typer.echo(f"error: invalid settings: {error}", err=True)
        raise typer.Exit(1) from None


@worker.callback(invoke_without_command=True)
def main(context: typer.Context) -> None:
    """Settings come from the environment and `.env`, as the API's do. Without a command: run."""
    if context.invoked_subcommand is None:
        run()


@worker.command()
def run() -> None:
    """Relay committed outbox rows to Redis Streams and run housekeeping, until SIGTERM."""
    import asyncio

    from app.core.logging import configure_logging
    from app.worker.running import run_worker

    settings = _settings()
    configure_logging(settings)
    asyncio.run(run_worker(settings))


@worker.command()
def check(
    ready: Annotated[
        bool,
        typer.Option(
            "--ready", help="Also require that the last pass reached PostgreSQL and Redis."
        ),
    ] = False,
) -> None:
    """Exit 0 when the heartbeat is fresh (WORKER__HEARTBEAT_MAX_AGE_SECONDS), 1 otherwise."""
    from app.worker.heartbeat import Heartbeat, check_heartbeat

    settings = _settings().worker
    healthy, line = check_heartbeat(
        Heartbeat(settings.heartbeat_path),
        max_age_seconds=settings.heartbeat_max_age_seconds,
        ready=ready,
    )
    typer.echo(line, err=not healthy)
    raise typer.Exit(0 if healthy else 1)
