"""The worker's cross-tenant functions are the worker's alone (docs/security.md, "The worker's
crossings"): the API's login role (a member of `dependable_app` only) is refused each of them,
the worker's login role (DATABASE__WORKER_URL, a member of `dependable_relay`) runs them.

Each test runs on the test's rolled-back connection: as the API's login role, or, marked
`worker_role`, as the worker's. Whatever a function deletes or claims is rolled back.
"""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.db import SessionFactory

# Each function, called with harmless arguments (nothing to mark, defer or purge past a day).
WORKER_FUNCTIONS = {
    "outbox_claim": "SELECT * FROM outbox_claim(1)",
    "outbox_mark_sent": "SELECT outbox_mark_sent(ARRAY[]::uuid[])",
    "outbox_defer": "SELECT outbox_defer(gen_random_uuid(), 'test', 1)",
    "outbox_backlog": "SELECT * FROM outbox_backlog()",
    "purge_sent_outbox": "SELECT purge_sent_outbox(86400)",
    "purge_expired_refresh_tokens": "SELECT purge_expired_refresh_tokens(86400)",
}
CALLS = pytest.mark.parametrize(
    ("function", "call"), WORKER_FUNCTIONS.items(), ids=list(WORKER_FUNCTIONS)
)
MEMBERSHIPS = text(
    "SELECT pg_has_role('dependable_relay', 'MEMBER'), pg_has_role('dependable_app', 'MEMBER')"
)


@CALLS
async def test_the_api_role_may_not_run_the_workers_functions(
    session_factory: SessionFactory, function: str, call: str
) -> None:
    async with session_factory() as session:
        with pytest.raises(DBAPIError, match=f"permission denied for function {function}"):
            await session.execute(text(call))


@CALLS
@pytest.mark.worker_role
async def test_the_worker_role_runs_them(
    session_factory: SessionFactory, function: str, call: str
) -> None:
    async with session_factory() as session:
        await session.execute(text(call))


async def test_the_api_role_is_not_a_member_of_the_relay_role(
    session_factory: SessionFactory,
) -> None:
    async with session_factory() as session:
        relay, app = (await session.execute(MEMBERSHIPS)).one()
    assert (relay, app) == (False, True)


@pytest.mark.worker_role
async def test_the_worker_role_is_a_member_of_both(session_factory: SessionFactory) -> None:
    """The relay's crossings, and the API's own privileges under row-level security (its
    sessions are the API's `get_session`)."""
    async with session_factory() as session:
        relay, app = (await session.execute(MEMBERSHIPS)).one()
        superuser, bypass = (
            await session.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    assert (relay, app, superuser, bypass) == (True, True, False, False)
