"""The OpenAPI document is a contract the service keeps: schemathesis derives requests from the
document (valid and invalid ones, and sequences that follow its links) and sends them to a real
server process, with every check on (`--checks all`: server errors, statuses, content types,
response schemas and headers, negative data rejected, positive data accepted, `Allow` on 405,
undeclared methods, the stateful phase). Zero failures, or the test fails with schemathesis'
report. What the document cannot express is allowed per operation, each with its reason, in
tests/contract/schemathesis.toml.

CI runs a small budget (CONTRACT_MAX_EXAMPLES, default 15 per operation); `make fuzz` a larger
one. Every failure found so far is a regression test in tests/http/test_openapi_contract.py.
"""

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from app.core.config import Settings
from tests.fixtures.database import fresh_database
from tests.fixtures.server import ROOT, serving

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")
TENANT, EMAIL, PASSWORD = "contract", "owner@contract.example", "a contract-test passphrase"
# The server: cheap password hashing (the fuzzer logs in often), and no rate limits: every
# request comes from one address, so the limits would answer 429 to most of the run.
SERVER = {
    "AUTH__ARGON2_TIME_COST": "1",
    "AUTH__ARGON2_MEMORY_COST_KIB": "1024",
    "AUTH__ARGON2_PARALLELISM": "1",
    "RATE_LIMIT__ENABLED": "false",
}


async def sign_up(base_url: str) -> None:
    """The contract's tenant and its owner (with the demo, every feature switched on)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/api/v1/tenants",
            json={
                "name": "Contract",
                "slug": TENANT,
                "email": EMAIL,
                "password": PASSWORD,
                "full_name": "Contract Owner",
            },
        )
        response.raise_for_status()
        # demo:begin
        token = await client.post(
            "/api/v1/auth/token",
            headers={"X-Tenant": TENANT},
            data={"username": EMAIL, "password": PASSWORD},
        )
        flag = await client.put(
            "/api/v1/flags/bulk_tasks",
            json={"enabled": True},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        flag.raise_for_status()
        # demo:end


@pytest.mark.usefixtures("redis")  # flushed: the cache must not remember another run's tenant
async def test_the_service_keeps_its_documented_contract(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contract_settings = await fresh_database(settings, "contract")
    async with serving(contract_settings, tmp_path / "server.log", environment=SERVER) as base:
        await sign_up(base)
        process = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "--config-file",
            str(CONFIG),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            os.environ.get("CONTRACT_MAX_EXAMPLES", "15"),
            "--no-color",
            # In the test's own folder: schemathesis keeps a cache in its working directory.
            cwd=tmp_path,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),  # for the hooks module
                "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
                "CONTRACT_BASE_URL": base,
                "CONTRACT_TENANT": TENANT,
                "CONTRACT_EMAIL": EMAIL,
                "CONTRACT_PASSWORD": PASSWORD,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
    report = output.decode(errors="replace")
    summary = re.search(r"^Test cases:\n\s*(.+)$", report, re.MULTILINE)
    with capsys.disabled():  # the number of cases run, in CI's log
        print(f"\nschemathesis: {summary.group(1) if summary else 'no summary'}")
    assert process.returncode == 0, report
