"""`python -m app.cli`: the admin commands (app/cli/commands.py)."""

from app.cli.commands import cli

cli()
