"""The CLI sets passwords under the same policy as the API (app/core/security.py): a common
password is one line on stderr, exit status 1, and nothing written."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.cli.conftest import RunCli, Slugs, scalar


async def test_create_tenant_and_create_user_refuse_a_common_password(
    slugs: Slugs, cli: RunCli, owner: AsyncEngine
) -> None:
    slug = slugs.new()
    owner_options = ("--name", "Acme", "--full-name", "Olive Owner")

    refused_owner = await cli(
        *("create-tenant", "--slug", slug, *owner_options),
        *("--email", f"owner@{slug}.example.com", "--password", "password1234"),
    )
    created = await cli(
        *("create-tenant", "--slug", slug, *owner_options),
        *("--email", f"owner@{slug}.example.com", "--password", "correct horse battery"),
    )
    refused_user = await cli(
        *("create-user", "--tenant", slug, "--email", f"m@{slug}.example.com"),
        *("--full-name", "M", "--role", "member", "--password", "qwerty123456"),
    )

    assert refused_owner.error_line.startswith("error: The password is one of the most common")
    assert created.exit_code == 0
    assert refused_user.error_line.startswith("error: The password is one of the most common")
    users = "SELECT count(*) FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = :s"
    assert await scalar(owner, users, s=slug) == 1
