"""The worker's heartbeat: a small file rewritten after every pass, which the orchestrator's
probe reads with `python -m app.worker check` (exit 0 or 1).

A file rather than a Redis key or an HTTP endpoint: the probe runs in the worker's own container
and needs nothing else up, so a Redis or PostgreSQL outage shows as "not ready" (the last pass
failed), never as a dead worker to be restarted. Liveness: the file is fresh (the loop turns).
Readiness: fresh, and the last pass reached PostgreSQL and relayed what it claimed.
"""

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Beat:
    at: float  # time.time() of the pass
    pid: int
    ready: bool
    detail: str


class Heartbeat:
    def __init__(self, path: Path) -> None:
        self.path = path

    def beat(self, *, ready: bool, detail: str) -> None:
        """Write atomically (a reader never sees half a file): a temporary file, renamed."""
        beat = Beat(at=time.time(), pid=os.getpid(), ready=ready, detail=detail)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(asdict(beat)))
        temporary.replace(self.path)

    def read(self) -> Beat | None:
        try:
            fields = json.loads(self.path.read_text())
            return Beat(
                at=float(fields["at"]),
                pid=int(fields["pid"]),
                ready=bool(fields["ready"]),
                detail=str(fields["detail"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def check_heartbeat(
    heartbeat: Heartbeat, *, max_age_seconds: float, ready: bool
) -> tuple[bool, str]:
    """(healthy, one line saying why) for the probe."""
    beat = heartbeat.read()
    if beat is None:
        return False, f"no heartbeat at {heartbeat.path}"
    age = time.time() - beat.at
    if age > max_age_seconds:
        return False, f"stale: the last pass was {age:.1f} s ago (limit {max_age_seconds:g} s)"
    if ready and not beat.ready:
        return False, f"not ready: {beat.detail}"
    state = "ready" if beat.ready else f"not ready: {beat.detail}"
    return True, f"alive: the last pass was {age:.1f} s ago, pid {beat.pid} ({state})"
