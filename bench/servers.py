"""The servers under test: single uvicorn workers with identical flags, pinned to one core."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Scratch space of the last run: the servers' logs and the raw results (not versioned).
WORK = ROOT / ".bench"

# What uvicorn serves for Dependable: one place to change it (say, to a factory).
DEPENDABLE_TARGET = "app.main:create_app"
DEPENDABLE_IS_FACTORY = True

# Every server gets exactly these flags.
UVICORN_FLAGS = (
    "--host",
    "127.0.0.1",
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
)


def uvicorn_target(target: str, *, factory: bool) -> list[str]:
    return ["--factory", target] if factory else [target]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    target: list[str]
    env: dict[str, str]
    health_path: str
    cpus: list[int] | None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            *self.target,
            "--port",
            str(self.port),
            *UVICORN_FLAGS,
        ]
        if self.cpus:
            # taskset execs the interpreter: the pid stays the worker's.
            command = ["taskset", "-c", ",".join(map(str, self.cpus)), *command]
        WORK.mkdir(exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                command, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=log
            )

    @property
    def log_path(self) -> Path:
        return WORK / f"{self.name}.log"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.base_url + self.health_path, timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(
            f"{self.name} did not answer {self.health_path} in {timeout:.0f} s:\n{self.log_tail()}"
        )

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
