"""Every unique and foreign-key constraint is declared by the repository of its table
(issue 10, item 8): in `constraint_errors`, with the 4xx a request violating it gets, or in
`constraints_not_hit`, with the reason no request can. PostgreSQL's catalog is the list, so a new
constraint (or a new table) fails here until its repository says what a violation means, instead
of surfacing as a 500 the first time two requests race.

Then each declared translation is provoked for real (a foreign key pointing at a row that is not
there is what a lost race leaves behind) and must raise its domain error.
"""

import importlib
import pkgutil
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import app
from app.auth.exceptions import InvalidTokenError
from app.auth.models import RefreshToken
from app.auth.repository import RefreshTokenRepository
from app.core.db import SessionFactory
from app.core.errors import AppError
from app.core.repository import Repository, TenantGoneError
from app.core.tenancy import TenantSession, bind_tenant
from app.identity.models import Role, User
from app.identity.repository import UserRepository
from tests.fixtures.auth import Org
from tests.fixtures.constraints import Provoke, Write

# demo:begin
# isort: split
from tests.fixtures.demo_constraints import DEMO_CASES, DEMO_WRITES

# demo:end

# Unique constraints, primary keys, exclusion constraints, foreign keys, and unique indexes that
# back no constraint: everything whose violation is an IntegrityError.
CATALOG = text(
    """
    SELECT t.relname, c.conname
    FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
    WHERE t.relnamespace = 'public'::regnamespace AND c.contype IN ('p', 'u', 'x', 'f')
    UNION
    SELECT t.relname, i.relname
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relnamespace = 'public'::regnamespace AND x.indisunique AND NOT EXISTS (
        SELECT FROM pg_constraint c
        WHERE c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x')
    )
    """
)
NOT_APP_TABLES = {"alembic_version"}


def repositories() -> list[type[Repository[Any]]]:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if module.name.endswith(".repository"):
            importlib.import_module(module.name)
    found, pending = [], list(Repository.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if hasattr(cls, "model"):
            found.append(cls)
    return found


def declared(repository: type[Repository[Any]]) -> set[str]:
    return set(repository.constraint_error_map()) | set(repository.unreachable_constraints())


async def catalog(session: AsyncSession) -> dict[str, set[str]]:
    constraints: dict[str, set[str]] = {}
    for table, name in await session.execute(CATALOG):
        if table not in NOT_APP_TABLES:
            constraints.setdefault(table, set()).add(name)
    return constraints


async def test_item8_every_unique_and_foreign_key_constraint_is_declared_by_its_repository(
    session: AsyncSession,
) -> None:
    by_table: dict[str, list[type[Repository[Any]]]] = {}
    for repository in repositories():
        by_table.setdefault(repository.table_name(), []).append(repository)

    undeclared = {}
    for table, names in sorted((await catalog(session)).items()):
        assert len(by_table.get(table, [])) == 1, f"{table}: one repository writes it"
        [repository] = by_table[table]
        if missing := names - declared(repository):
            undeclared[repository.__name__] = sorted(missing)
    assert undeclared == {}


async def test_declared_constraints_exist(session: AsyncSession) -> None:
    """A typo or a dropped constraint would leave a translation that can never apply."""
    constraints = await catalog(session)
    stale = {
        repository.__name__: sorted(declared(repository) - constraints[repository.table_name()])
        for repository in repositories()
    }
    assert {name: names for name, names in stale.items() if names} == {}


async def test_no_constraint_is_both_translated_and_unreachable() -> None:
    for repository in repositories():
        both = set(repository.constraint_error_map()) & set(repository.unreachable_constraints())
        assert both == set(), repository.__name__


# Each translated foreign key, provoked: the row it points at is missing, as after a lost race.


async def refresh_token_for_missing_user(session: TenantSession, org: Org) -> None:
    await RefreshTokenRepository(session, org.tenant.id).add(
        RefreshToken(
            user_id=uuid.uuid4(),
            family_id=uuid.uuid4(),
            token_hash=uuid.uuid4().hex,
            expires_at=datetime.now(UTC),
        )
    )


CASES: list[tuple[str, Provoke, type[AppError]]] = [
    ("fk_refresh_tokens_user_id_users", refresh_token_for_missing_user, InvalidTokenError),
]
# demo:begin
CASES += DEMO_CASES
# demo:end


@pytest.mark.parametrize(("constraint", "provoke", "error"), CASES, ids=[c[0] for c in CASES])
async def test_item8_a_violated_foreign_key_is_its_domain_error(
    acme: Org,
    session_factory: SessionFactory,
    constraint: str,
    provoke: Provoke,
    error: type[AppError],
) -> None:
    async with session_factory() as session:
        bound = await bind_tenant(session, acme.tenant.id)
        with pytest.raises(error) as raised:
            await provoke(bound, acme)
    assert constraint in str(raised.value.__cause__)
    assert 400 <= raised.value.status < 500


TENANT_OWNED_WRITES: list[tuple[str, Write]] = [
    (
        "users",
        lambda s, t: UserRepository(s, t).add(
            User(email="a@b.c", password_hash="x", full_name="A", role=Role.MEMBER)
        ),
    ),
]
# demo:begin
TENANT_OWNED_WRITES += DEMO_WRITES
# demo:end


@pytest.mark.parametrize(
    ("table", "write"), TENANT_OWNED_WRITES, ids=[w[0] for w in TENANT_OWNED_WRITES]
)
async def test_item8_writing_for_a_deleted_tenant_is_404(
    session_factory: SessionFactory,
    table: str,
    write: Write,
) -> None:
    """An operator deleted the tenant while one of its requests was writing."""
    gone = uuid.uuid4()
    async with session_factory() as session:
        bound = await bind_tenant(session, gone)
        with pytest.raises(TenantGoneError) as raised:
            await write(bound, gone)
    assert f"fk_{table}_tenant_id_tenants" in str(raised.value.__cause__)
    assert raised.value.status == 404
