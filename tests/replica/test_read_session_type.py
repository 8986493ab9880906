"""A read session is a distinct type: what it lacks (`add`, `delete`, `flush`, `commit`) is a mypy
error to call, and where a write session is expected (a repository's constructor) it is refused;
`TenantOwnedRepository.reading` is the one crossing. Checked by running mypy on a snippet."""

from mypy import api

SNIPPET = """
import uuid

from app.core.tenancy import TenantReadSession, TenantSession
from app.identity.models import User
from app.identity.repository import UserRepository


async def on_a_read_path(read: TenantReadSession, write: TenantSession, tenant: uuid.UUID) -> None:
    read.add(User())
    await read.commit()
    UserRepository(read, tenant)
    UserRepository.reading(read, tenant)
    reads_too: TenantReadSession = write
"""


def test_writes_through_a_read_session_are_type_errors() -> None:
    report, _, status = api.run(["--strict", "--no-error-summary", "-c", SNIPPET])
    errors = [line.split(": error: ", 1)[1] for line in report.splitlines() if ": error: " in line]
    assert status == 1
    assert errors == [
        '"TenantReadSession" has no attribute "add"  [attr-defined]',
        '"TenantReadSession" has no attribute "commit"  [attr-defined]',
        'Argument 1 to "UserRepository" has incompatible type "TenantReadSession"; expected '
        '"TenantSession"  [arg-type]',
    ], report
