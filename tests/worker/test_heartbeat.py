"""`python -m app.worker check [--ready]`, the orchestrator's probe: exit 0 while the heartbeat
is fresh, 1 when it is stale or missing; `--ready` also wants the last pass to have gone well."""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.core.config import load_settings
from app.worker.commands import worker
from app.worker.heartbeat import Heartbeat


@pytest.fixture
def heartbeat(tmp_path: Path) -> Iterator[Heartbeat]:
    load_settings.cache_clear()  # the command reads the environment below
    yield Heartbeat(tmp_path / "heartbeat")
    load_settings.cache_clear()


def probe(heartbeat: Heartbeat, *args: str) -> tuple[int, str]:
    env = {"APP_ENV": "test", "WORKER__HEARTBEAT_PATH": str(heartbeat.path)}
    env["WORKER__HEARTBEAT_MAX_AGE_SECONDS"] = "30"
    result = CliRunner().invoke(worker, ["check", *args], env=env)
    return result.exit_code, result.output.strip()


def test_a_fresh_heartbeat_is_alive_and_ready(heartbeat: Heartbeat) -> None:
    heartbeat.beat(ready=True, detail="0 events pending")

    code, line = probe(heartbeat)
    assert code == 0
    assert line.startswith("alive: the last pass was 0.")
    assert line.endswith(f" s ago, pid {os.getpid()} (ready)")
    assert probe(heartbeat, "--ready")[0] == 0


def test_a_failed_last_pass_is_alive_but_not_ready(heartbeat: Heartbeat) -> None:
    heartbeat.beat(ready=False, detail="the last pass failed: OperationalError")

    assert probe(heartbeat)[0] == 0  # the loop turns: no restart
    assert probe(heartbeat, "--ready") == (1, "not ready: the last pass failed: OperationalError")


def test_a_stale_or_missing_heartbeat_fails(heartbeat: Heartbeat) -> None:
    assert probe(heartbeat) == (1, f"no heartbeat at {heartbeat.path}")

    # A minute old (the time written in it counts, not the file's own times).
    beat = {"at": time.time() - 60, "pid": 1, "ready": True, "detail": "0 events pending"}
    heartbeat.path.write_text(json.dumps(beat))

    code, line = probe(heartbeat)
    assert code == 1
    assert line.startswith("stale: the last pass was 60.")
