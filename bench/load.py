"""Load with wrk: one Lua script per run, whose `done` hook prints the numbers as JSON."""

import json
import subprocess
import tempfile
from dataclasses import dataclass

from bench.scenarios import Request

CONNECTIONS = 32
RESULT_MARK = "BENCH_RESULT "

_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\\n',
    "BENCH_RESULT ", summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def _headers(request: Request, token: str) -> str:
    pairs = []
    if request.authenticated:
        pairs.append(f'["Authorization"] = {_lua_string("Bearer " + token)}')
    if request.body is not None:
        pairs.append('["Content-Type"] = "application/json"')
    return "{" + ", ".join(pairs) + "}"


def script(requests: list[Request], token: str) -> str:
    """A script that sends `requests` in turn (one request: the same one every time)."""
    formatted = ",\n  ".join(
        f"wrk.format({_lua_string(r.method)}, {_lua_string(r.path)}, {_headers(r, token)}, "
        f"{_lua_string(r.body) if r.body is not None else 'nil'})"
        for r in requests
    )
    return (
        "local requests = nil\nlocal i = 0\n"
        "function request()\n"
        f"  if requests == nil then requests = {{\n  {formatted}\n  }} end\n"
        "  i = i % #requests + 1\n  return requests[i]\nend\n" + _DONE
    )


def run_wrk(
    base_url: str,
    requests: list[Request],
    token: str,
    *,
    seconds: float,
    cpus: list[int] | None,
    connections: int = CONNECTIONS,
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as lua:
        lua.write(script(requests, token))
        lua.flush()
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            lua.name,
            base_url,
        ]
        if cpus:
            command = ["taskset", "-c", ",".join(map(str, cpus)), *command]
        completed = subprocess.run(  # noqa: S603 - our own command line
            command, capture_output=True, text=True, check=True, timeout=seconds + 60
        )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            raw = json.loads(line.removeprefix(RESULT_MARK))
            errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
            return LoadResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                errors=errors,
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")


def wrk_version() -> str:
    completed = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)  # noqa: S607
    first = (completed.stdout or completed.stderr).splitlines()
    return first[0].strip() if first else "wrk"
