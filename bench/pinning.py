"""CPU pinning: the app under test on one core; wrk, PostgreSQL and Redis on the other.

With two or more cores the servers run under `taskset -c <app core>`, wrk under `taskset -c
<load cores>`, and every thread of the running PostgreSQL and Redis servers is moved to the load
cores with sched_setaffinity (new PostgreSQL backends inherit it from the postmaster). `restore`
puts every thread back as it was, and gives threads created meanwhile (backends other clients
opened during the run) the mask the postmaster had. With one core nothing is pinned.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_NAMES = frozenset({"postgres", "redis-server"})


@dataclass(frozen=True, slots=True)
class Plan:
    app_cpus: list[int]
    load_cpus: list[int]

    @property
    def pinned(self) -> bool:
        return bool(self.load_cpus)

    def describe(self) -> str:
        if not self.pinned:
            return (
                "One core: nothing pinned; the app under test, wrk, PostgreSQL and Redis share it."
            )
        return (
            f"App under test (each uvicorn worker, one at a time under load) on core "
            f"{_cpus(self.app_cpus)}; wrk, PostgreSQL (postmaster and every backend) and "
            f"Redis (every thread) on core {_cpus(self.load_cpus)}, so the app's core does "
            "nothing but the app."
        )


def _cpus(cpus: list[int]) -> str:
    return ",".join(map(str, cpus))


def plan() -> Plan:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return Plan(app_cpus=available, load_cpus=[])
    return Plan(app_cpus=[available[-1]], load_cpus=available[:-1])


def _service_threads() -> Iterator[tuple[int, int, str]]:
    """(pid, tid, name) of every thread of the PostgreSQL and Redis servers."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            if name not in SERVICE_NAMES:
                continue
            for task in (entry / "task").iterdir():
                yield int(entry.name), int(task.name), name
        except OSError:
            continue  # it exited meanwhile


@dataclass
class ServicePinning:
    cpus: list[int]
    saved: dict[int, set[int]] = field(default_factory=dict)
    fallback: set[int] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    threads: int = 0

    def apply(self) -> None:
        for pid, tid, name in _service_threads():
            try:
                mask = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, self.cpus)
            except OSError as error:
                self.failures.append(f"{name} {tid}: {error}")
                continue
            self.saved[tid] = mask
            self.threads += 1
            if pid == tid and not self.fallback:
                self.fallback = set(mask)
        if not self.fallback:
            self.fallback = set(os.sched_getaffinity(0)) | set(self.cpus)

    def restore(self) -> None:
        for _, tid, _ in _service_threads():
            try:
                os.sched_setaffinity(tid, self.saved.get(tid, self.fallback))
            except OSError:
                continue


def describe_services(pinning: ServicePinning | None) -> str:
    if pinning is None:
        return "PostgreSQL and Redis were not pinned."
    text = f"{pinning.threads} PostgreSQL and Redis threads pinned with sched_setaffinity"
    if pinning.failures:
        text += f"; {len(pinning.failures)} could not be ({pinning.failures[0]})"
    return text + "; their affinity was restored afterwards."
