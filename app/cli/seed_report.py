"""What `seed-demo` shows: a progress bar on stderr while it works, the report and the demo logins
when it is done. Imported by the command only, so the other commands never load rich's tables."""

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.seed import DEMO_SLUG, DEMO_USERS, SeedProgress, SeedReport


class RichSeedProgress:
    """`app.cli.seed.SeedProgress` as a rich progress bar on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("demo data", total=None)

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, steps: int, description: str) -> None:
        self.progress.update(self.task, advance=steps, description=description)


@contextmanager
def seed_progress_bar() -> Iterator[SeedProgress]:
    """A transient rich progress bar on stderr, gone when the seed is done."""
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield RichSeedProgress(bar)


def print_seed_report(report: SeedReport) -> None:
    created = ", ".join(f"{n} {what}" for what, n in report.created.items()) or "nothing"
    console = Console(highlight=False)
    console.print(
        f"Demo tenant {DEMO_SLUG!r} ready in {report.seconds:.1f} s (created: {created}).",
        soft_wrap=True,
    )
    statuses = ", ".join(f"{n} {status}" for status, n in report.tasks_by_status.items())
    total = sum(report.tasks_by_status.values())
    console.print(
        f"It has {report.users} users, {report.projects} projects and {total} tasks ({statuses}).",
        soft_wrap=True,
    )
    logins = Table("role", "email (X-Tenant: demo)", "password", title="Demo logins")
    for user in DEMO_USERS:
        logins.add_row(user.role.value, user.email, user.password)
    console.print(logins)
