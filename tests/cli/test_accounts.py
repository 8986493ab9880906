"""`create-tenant` and `create-user`: the API's schemas, services and transaction, from a shell.
What they write is committed (the API can log in with it); what they refuse is one line on
stderr, exit status 1, and nothing written."""

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.cli.conftest import Outcome, RunCli, Slugs, login, rows, scalar

PASSWORD = "correct horse battery"


async def create_tenant(cli: RunCli, slug: str, *extra: str, **options: str) -> Outcome:
    values = {
        "name": "Acme",
        "email": f"owner@{slug}.example.com",
        "full-name": "Olive Owner",
        "password": PASSWORD,
        **options,
    }
    args = [arg for name, value in values.items() for arg in (f"--{name}", value)]
    return await cli("create-tenant", "--slug", slug, *args, *extra)


async def create_user(cli: RunCli, slug: str, email: str, role: str, **env: str) -> Outcome:
    return await cli(
        "create-user",
        *("--tenant", slug, "--email", email, "--full-name", "Ursula User", "--role", role),
        *("--password", PASSWORD),
        env=env,
    )


async def users_of(owner: AsyncEngine, slug: str) -> dict[str, str]:
    found = await rows(
        owner,
        "SELECT u.email, u.role::text FROM users u JOIN tenants t ON t.id = u.tenant_id "
        "WHERE t.slug = :slug",
        slug=slug,
    )
    return dict(found)


async def events_of(owner: AsyncEngine, slug: str) -> list[tuple[str, str]]:
    """The tenant's events in the outbox, in order: their type and the user's role."""
    found = await rows(
        owner,
        "SELECT o.type, o.data->>'role' FROM outbox o JOIN tenants t ON t.id = o.tenant_id "
        "WHERE t.slug = :slug ORDER BY o.position",
        slug=slug,
    )
    return [(type_, role) for type_, role in found]


async def tenant_count(owner: AsyncEngine, slug: str) -> int:
    return int(await scalar(owner, "SELECT count(*) FROM tenants WHERE slug = :slug", slug=slug))


class TestCreateTenant:
    async def test_creates_the_tenant_and_its_owner_who_can_log_in(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine, app_instance: FastAPI, redis: Redis
    ) -> None:
        slug = slugs.new()

        outcome = await create_tenant(cli, slug, email=f"Owner@{slug}.example.com")

        assert outcome.exit_code == 0, outcome
        assert f"Created tenant {slug!r}" in outcome.stdout
        assert PASSWORD not in outcome.stdout
        [(name, active)] = await rows(
            owner, "SELECT name, is_active FROM tenants WHERE slug = :slug", slug=slug
        )
        assert (name, active) == ("Acme", True)
        assert await users_of(owner, slug) == {f"owner@{slug}.example.com": "owner"}
        # Committed for real: the API (its own sessions, no test transaction) logs the owner in.
        assert await login(app_instance, slug, f"owner@{slug}.example.com", PASSWORD) == 200

    async def test_a_taken_slug_is_one_line_and_writes_nothing(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine
    ) -> None:
        slug = slugs.new()
        assert (await create_tenant(cli, slug)).exit_code == 0

        again = await create_tenant(cli, slug, email=f"other@{slug}.example.com")

        assert again.error_line == f"error: tenant slug {slug!r} is taken"
        assert await tenant_count(owner, slug) == 1
        assert list(await users_of(owner, slug)) == [f"owner@{slug}.example.com"]

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            ({"email": "not-an-email"}, "error: invalid --email: value is not a valid email"),
            ({"password": "too short"}, "error: invalid --password: must be at least 12 char"),
            ({"full-name": ""}, "error: invalid --full-name: String should have at least 1"),
        ],
    )
    async def test_input_is_checked_by_the_signup_schema(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine, options: dict[str, str], expected: str
    ) -> None:
        slug = slugs.new()

        outcome = await create_tenant(cli, slug, **options)

        assert outcome.error_line.startswith(expected)
        assert await tenant_count(owner, slug) == 0

    async def test_a_malformed_slug_is_told_as_the_rule(
        self, cli: RunCli, owner: AsyncEngine
    ) -> None:
        outcome = await create_tenant(cli, "Not_A_Slug", email="owner@example.com")

        assert outcome.error_line == (
            "error: invalid --slug: should be 3-63 lowercase letters, digits and hyphens; "
            "no hyphen at either end"
        )
        assert await tenant_count(owner, "Not_A_Slug") == 0

    async def test_the_configured_password_minimum_is_the_services(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine
    ) -> None:
        slug = slugs.new()

        outcome = await cli(
            *("create-tenant", "--slug", slug, "--name", "Acme", "--full-name", "Olive Owner"),
            *("--email", f"owner@{slug}.example.com", "--password", "twenty characters!!!"),
            env={"AUTH__PASSWORD_MIN_LENGTH": "24"},
        )

        assert outcome.error_line == "error: The password must be at least 24 characters long."
        assert await tenant_count(owner, slug) == 0

    async def test_the_password_is_prompted_for_hidden_and_twice(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine
    ) -> None:
        slug = slugs.new()

        outcome = await cli(
            *("create-tenant", "--slug", slug, "--name", "Acme", "--full-name", "Olive Owner"),
            *("--email", f"owner@{slug}.example.com"),
            input=f"{PASSWORD}\n{PASSWORD}\n",
        )

        assert outcome.exit_code == 0, outcome
        assert "Repeat for confirmation" in outcome.stdout
        assert PASSWORD not in outcome.stdout  # hidden input is not echoed
        assert await tenant_count(owner, slug) == 1


class TestCreateUser:
    async def test_every_role_acting_as_the_owner(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine, app_instance: FastAPI, redis: Redis
    ) -> None:
        slug = slugs.new()
        await create_tenant(cli, slug)

        for role in ("admin", "member", "viewer"):
            outcome = await create_user(cli, slug, f"{role}@{slug}.example.com", role)
            assert outcome.exit_code == 0, outcome
            assert f"acting as owner owner@{slug}.example.com" in outcome.stdout

        assert await users_of(owner, slug) == {
            f"owner@{slug}.example.com": "owner",
            f"admin@{slug}.example.com": "admin",
            f"member@{slug}.example.com": "member",
            f"viewer@{slug}.example.com": "viewer",
        }
        # Through the users' service, as the API adds them: each is announced (the owner, made
        # by the signup, is not).
        assert await events_of(owner, slug) == [
            ("user.created", "admin"),
            ("user.created", "member"),
            ("user.created", "viewer"),
        ]
        assert await login(app_instance, slug, f"admin@{slug}.example.com", PASSWORD) == 200

    async def test_acts_as_the_first_active_owner_and_needs_one(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine
    ) -> None:
        slug = slugs.new()
        await create_tenant(cli, slug)
        async with owner.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE users SET is_active = false WHERE email = $1",
                (f"owner@{slug}.example.com",),
            )
            await connection.exec_driver_sql(
                "INSERT INTO users (tenant_id, email, password_hash, full_name, role) "
                "SELECT id, $2, 'x', 'Second Owner', 'owner' FROM tenants WHERE slug = $1",
                (slug, f"second@{slug}.example.com"),
            )

        outcome = await create_user(cli, slug, f"admin@{slug}.example.com", "admin")
        assert f"acting as owner second@{slug}.example.com" in outcome.stdout

        async with owner.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE users SET is_active = false WHERE email = $1",
                (f"second@{slug}.example.com",),
            )
        outcome = await create_user(cli, slug, f"member@{slug}.example.com", "member")
        assert outcome.error_line == f"error: tenant {slug!r} has no active owner to act as"
        assert f"member@{slug}.example.com" not in await users_of(owner, slug)

    async def test_an_unknown_or_inactive_tenant_is_one_line(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine
    ) -> None:
        unknown = slugs.new()
        outcome = await create_user(cli, unknown, "someone@example.com", "member")
        assert outcome.error_line == f"error: no active tenant has the slug {unknown!r}"

        inactive = slugs.new()
        await create_tenant(cli, inactive)
        async with owner.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE tenants SET is_active = false WHERE slug = $1", (inactive,)
            )
        outcome = await create_user(cli, inactive, "someone@example.com", "member")
        assert outcome.error_line == f"error: no active tenant has the slug {inactive!r}"
        assert list(await users_of(owner, inactive)) == [f"owner@{inactive}.example.com"]

    async def test_a_taken_email_is_one_line(self, slugs: Slugs, cli: RunCli) -> None:
        slug = slugs.new()
        await create_tenant(cli, slug)
        assert (await create_user(cli, slug, f"m@{slug}.example.com", "member")).exit_code == 0

        again = await create_user(cli, slug, f"M@{slug}.example.com", "viewer")

        assert again.error_line == (
            f"error: 'm@{slug}.example.com' is already a user of tenant {slug!r}"
        )

    async def test_weak_password_and_bad_email_are_refused(
        self, slugs: Slugs, cli: RunCli, owner: AsyncEngine
    ) -> None:
        slug = slugs.new()
        await create_tenant(cli, slug)

        short = await cli(
            *("create-user", "--tenant", slug, "--email", f"m@{slug}.example.com"),
            *("--full-name", "M", "--role", "member", "--password", "short"),
        )
        weak = await create_user(
            cli, slug, f"m@{slug}.example.com", "member", AUTH__PASSWORD_MIN_LENGTH="30"
        )
        bad_email = await create_user(cli, slug, "m-at-example.com", "member")

        assert short.error_line == "error: invalid --password: must be at least 12 characters long"
        assert weak.error_line == "error: The password must be at least 30 characters long."
        assert bad_email.error_line.startswith("error: invalid --email: value is not a valid")
        assert list(await users_of(owner, slug)) == [f"owner@{slug}.example.com"]

    async def test_owner_is_not_a_role_it_offers(self, slugs: Slugs, cli: RunCli) -> None:
        slug = slugs.new()
        await create_tenant(cli, slug)

        outcome = await create_user(cli, slug, f"o@{slug}.example.com", "owner")

        assert outcome.exit_code == 2  # a usage error, from the command line parser
        assert "Invalid value for '--role'" in outcome.stderr
