"""The benchmark runner: `make bench` (or `uv run python -m bench.run [--quick]`).

1. Makes the data set (bench/data.py) and starts five single-worker uvicorn servers with the
   same flags and environment: Dependable and the baseline, each with the project cache on and
   off, and the FastAPI floor app. All of them are pinned to one core; wrk, PostgreSQL and
   Redis to the other (bench/pinning.py).
2. For each scenario: a warm-up of each side, then rounds that load the two sides in turn
   (alternating which goes first) with wrk at 32 connections; req/s, p50, p99 and the server's
   CPU per request for each, and the ratio per round.
3. A longer mixed run on a fresh Dependable worker, watching its RSS.
4. cProfile of the Dependable route with the most CPU per request, in-process
   (bench/profile.py).
5. Writes docs/benchmarks.md and docs/img/benchmarks.png (bench/report.py).
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from bench import pinning, report
from bench.data import BENCH_TASKS, BenchData, prepare
from bench.load import CONNECTIONS, LoadResult, run_wrk, wrk_version
from bench.scenarios import (
    BASELINE,
    BASELINE_NO_CACHE,
    DEPENDABLE,
    DEPENDABLE_NO_CACHE,
    FLOOR,
    Scenario,
    mixed,
    scenarios,
)
from bench.servers import (
    DEPENDABLE_IS_FACTORY,
    DEPENDABLE_TARGET,
    ROOT,
    UVICORN_FLAGS,
    WORK,
    Server,
    uvicorn_target,
)
from bench.settings import BenchSettings

RSS_FROM = 20_000
RSS_TO = 200_000
# `make bench` must finish within 10 minutes on the 2-core machine: unless --rss-seconds says
# otherwise, the mixed run gets what is left of this budget (at least RSS_MIN_SECONDS) after the
# scenarios, keeping PROFILE_RESERVE for the profile and the report.
BUDGET_SECONDS = 540
RSS_MIN_SECONDS = 60
PROFILE_RESERVE = 40


@dataclass(frozen=True, slots=True)
class Options:
    rounds: int
    seconds: float
    warmup: float
    rss_seconds: float
    rss_chunk: float
    profile_requests: int
    profile_seconds: float
    tasks: int
    quick: bool
    report_only: bool


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for development")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: write the doc and chart again from the last run (.bench/)",
    )
    parser.add_argument("--rounds", type=int, help="alternating rounds per scenario (default 3)")
    parser.add_argument("--seconds", type=float, help="length of one wrk run (default 4)")
    parser.add_argument(
        "--rss-seconds",
        type=float,
        help=f"time limit of the mixed run, which otherwise stops at {RSS_TO:,} requests "
        f"(default: what is left of a {BUDGET_SECONDS // 60}-minute budget, at least "
        f"{RSS_MIN_SECONDS} s)",
    )
    arguments = parser.parse_args(argv)
    quick = bool(arguments.quick)
    return Options(
        rounds=arguments.rounds or 3,
        seconds=arguments.seconds or (2 if quick else 4),
        warmup=1 if quick else 2,
        rss_seconds=arguments.rss_seconds or (15 if quick else 0),
        rss_chunk=5 if quick else 10,
        profile_requests=200 if quick else 2_000,
        profile_seconds=10 if quick else 45,
        tasks=BENCH_TASKS,
        quick=quick,
        report_only=bool(arguments.report_only),
    )


def log(message: str) -> None:
    print(message, flush=True)


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    log("wrk is missing: installing Debian's package (apt-get install -y wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, env=env)  # noqa: S607


def servers(bench: BenchSettings, cpus: list[int] | None) -> dict[str, Server]:
    env = bench.server_env()
    no_cache = bench.server_env(CACHE__PROJECT_TTL_SECONDS="0")
    baseline = uvicorn_target("bench.baseline:create_app", factory=True)
    dependable = uvicorn_target(DEPENDABLE_TARGET, factory=DEPENDABLE_IS_FACTORY)
    return {
        BASELINE: Server(BASELINE, baseline, env, "/empty", cpus),
        BASELINE_NO_CACHE: Server(BASELINE_NO_CACHE, baseline, no_cache, "/empty", cpus),
        DEPENDABLE: Server(DEPENDABLE, dependable, env, "/health/live", cpus),
        DEPENDABLE_NO_CACHE: Server(
            DEPENDABLE_NO_CACHE, dependable, no_cache, "/health/live", cpus
        ),
        FLOOR: Server(
            FLOOR, uvicorn_target("bench.floor:create_app", factory=True), env, "/empty", cpus
        ),
    }


def run_order(all_scenarios: list[Scenario]) -> list[Scenario]:
    """The scenarios grouped by the servers they need (in order of first need), so that each
    server starts once and at most two run at a time: five would hold up to 150 PostgreSQL
    connections between them (pool size 20 + overflow 10 each)."""
    pairs: list[tuple[str, str]] = []
    for scenario in all_scenarios:
        pair = (scenario.subject_server, scenario.baseline_server)
        if pair not in pairs:
            pairs.append(pair)
    return sorted(all_scenarios, key=lambda s: pairs.index((s.subject_server, s.baseline_server)))


def switch(available: dict[str, Server], running: dict[str, Server], needed: set[str]) -> None:
    """Stop the running servers not `needed`, start the needed ones not running."""
    for name in [name for name in running if name not in needed]:
        running.pop(name).stop()
    starting = [available[name] for name in sorted(needed) if name not in running]
    for server in starting:
        server.start()
        running[server.name] = server
    for server in starting:
        server.wait_ready()


def measure(
    server: Server,
    scenario: Scenario,
    side: str,
    data: BenchData,
    plan: pinning.Plan,
    seconds: float,
) -> dict[str, Any]:
    request = scenario.subject_request if side == "subject" else scenario.baseline_request
    cpu_before = server.cpu_seconds()
    result: LoadResult = run_wrk(
        server.base_url, [request], data.token, seconds=seconds, cpus=plan.load_cpus or None
    )
    cpu = server.cpu_seconds() - cpu_before
    return {
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "errors": result.errors,
        "requests": result.requests,
        "cpu_ms_per_request": cpu * 1000 / result.requests if result.requests else None,
        "cpu_share": cpu / result.seconds if result.seconds else None,
    }


def run_scenario(
    scenario: Scenario,
    running: dict[str, Server],
    data: BenchData,
    plan: pinning.Plan,
    options: Options,
) -> dict[str, Any]:
    sides = {
        "subject": running[scenario.subject_server],
        "baseline": running[scenario.baseline_server],
    }
    for side, server in sides.items():
        measure(server, scenario, side, data, plan, options.warmup)
    rounds = []
    for number in range(options.rounds):
        order = ["baseline", "subject"] if number % 2 == 0 else ["subject", "baseline"]
        measured = {
            side: measure(sides[side], scenario, side, data, plan, options.seconds)
            for side in order
        }
        ratio = measured["subject"]["rps"] / measured["baseline"]["rps"]
        rounds.append({**measured, "ratio": ratio})
        log(
            f"  round {number + 1}: "
            + " | ".join(
                f"{name} {m['rps']:8,.0f} req/s p50 {m['p50_ms']:6.1f} p99 {m['p99_ms']:6.1f} ms"
                for name, m in (
                    ("baseline", measured["baseline"]),
                    (scenario.subject, measured["subject"]),
                )
            )
            + f" | ratio {ratio:.3f}"
        )
    ratios = [r["ratio"] for r in rounds]

    def median(side: str, key: str) -> float:
        values = [r[side][key] for r in rounds if r[side][key] is not None]
        return statistics.median(values) if values else float("nan")

    summary = {
        "key": scenario.key,
        "title": scenario.title,
        "subject": scenario.subject,
        "floor": scenario.floor,
        "request": f"{scenario.subject_request.method} {scenario.subject_request.path}",
        "rounds": rounds,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "errors": sum(r[side]["errors"] for r in rounds for side in ("baseline", "subject")),
        **{
            f"{side}_{key}": median(side, key)
            for side in ("baseline", "subject")
            for key in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "cpu_share")
        },
    }
    log(
        f"  median ratio {summary['ratio_median']:.3f} "
        f"(min {summary['ratio_min']:.3f}, max {summary['ratio_max']:.3f})"
    )
    return summary


def rss_run(
    bench: BenchSettings, data: BenchData, plan: pinning.Plan, options: Options, limit: float
) -> dict[str, Any]:
    """A fresh Dependable worker under the mixed load, until RSS_TO requests or the time limit;
    RSS read after every chunk."""
    server = Server(
        "dependable-rss",
        uvicorn_target(DEPENDABLE_TARGET, factory=DEPENDABLE_IS_FACTORY),
        bench.server_env(),
        "/health/live",
        plan.app_cpus if plan.pinned else None,
    )
    mix = mixed(data)
    requests = [scenario.subject_request for scenario in mix]
    samples: list[dict[str, float]] = []
    served = 0
    server.start()
    try:
        server.wait_ready()
        started = time.monotonic()
        samples.append({"requests": 0, "rss_mb": server.rss_bytes() / 2**20})
        while served < RSS_TO and time.monotonic() - started < limit:
            result = run_wrk(
                server.base_url,
                requests,
                data.token,
                seconds=options.rss_chunk,
                cpus=plan.load_cpus or None,
            )
            served += result.requests
            samples.append({"requests": served, "rss_mb": server.rss_bytes() / 2**20})
            log(f"  {served:9,} requests: RSS {samples[-1]['rss_mb']:.1f} MB")
    finally:
        server.stop()
    start = next((s for s in samples if s["requests"] >= RSS_FROM), None)
    # Short of RSS_FROM (a slow run): growth from the first chunk on, reported as indicative.
    indicative = start is None and len(samples) > 2
    if indicative:
        start = samples[1]
    end = samples[-1]
    growth = (end["rss_mb"] / start["rss_mb"] - 1) * 100 if start and start is not end else None
    return {
        "mix": [scenario.title for scenario in mix],
        "samples": samples,
        "from": start,
        "to": end,
        "growth_pct": growth,
        "indicative": indicative,
        "target_requests": RSS_TO,
        "time_limit_s": limit,
    }


def run_profile(
    bench: BenchSettings, data: BenchData, scenario: Scenario, plan: pinning.Plan, options: Options
) -> dict[str, Any]:
    request = scenario.subject_request
    env = bench.server_env()
    if scenario.subject_server == DEPENDABLE_NO_CACHE:
        env["CACHE__PROJECT_TTL_SECONDS"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        spec_path, out_path = Path(folder) / "spec.json", Path(folder) / "out.json"
        spec_path.write_text(
            json.dumps(
                {
                    "method": request.method,
                    "path": request.path,
                    "body": request.body,
                    "token": data.token,
                    "requests": options.profile_requests,
                    "seconds": options.profile_seconds,
                    "warmup": max(50, options.profile_requests // 10),
                }
            )
        )
        command = [sys.executable, "-m", "bench.profile", str(spec_path), str(out_path)]
        if plan.pinned:
            command = ["taskset", "-c", ",".join(map(str, plan.app_cpus)), *command]
        subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, check=True)  # noqa: S603
        profile: dict[str, Any] = json.loads(out_path.read_text())
    profile["scenario"] = scenario.key
    profile["title"] = scenario.title
    profile["request"] = f"{request.method} {request.path.split('?')[0]}"
    return profile


def _raise_on_term(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def write_report(run: dict[str, Any]) -> None:
    report.write(run, ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "img" / "benchmarks.png")
    log(report.summary(run))


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    if options.report_only:
        write_report(json.loads((WORK / "last-run.json").read_text()))
        return
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _raise_on_term)
    ensure_wrk()
    plan = pinning.plan()
    log(plan.describe())
    bench = BenchSettings.from_env()
    load_before = os.getloadavg()
    log(f"data: {options.tasks:,} tasks in {bench.database_owner_url.rsplit('/', 1)[1]}")
    data_started = time.monotonic()
    data = asyncio.run(prepare(bench, tasks=options.tasks))
    data_seconds = time.monotonic() - data_started
    all_scenarios = scenarios(data)
    services: pinning.ServicePinning | None = None
    own_affinity = os.sched_getaffinity(0)
    results: list[dict[str, Any]] = []
    try:
        if plan.pinned:
            os.sched_setaffinity(0, plan.load_cpus)
            services = pinning.ServicePinning(plan.load_cpus)
            services.apply()
            log(pinning.describe_services(services))
        available = servers(bench, plan.app_cpus if plan.pinned else None)
        running: dict[str, Server] = {}
        try:
            for scenario in run_order(all_scenarios):
                switch(available, running, {scenario.subject_server, scenario.baseline_server})
                log(
                    f"{scenario.title}  [{scenario.subject_request.method} "
                    f"{scenario.subject_request.path.split('?')[0]}]"
                )
                results.append(run_scenario(scenario, running, data, plan, options))
        finally:
            switch(available, running, set())
        results.sort(key=lambda r: [s.key for s in all_scenarios].index(r["key"]))
        limit = options.rss_seconds or max(
            RSS_MIN_SECONDS,
            BUDGET_SECONDS - (time.monotonic() - began) - options.profile_seconds - PROFILE_RESERVE,
        )
        log(
            f"mixed run on a fresh Dependable worker, up to {RSS_TO:,} requests or {limit:.0f} s "
            f"({time.monotonic() - began:.0f} s into the run)"
        )
        rss = rss_run(bench, data, plan, options, limit)
        by_key = {result["key"]: result for result in results}
        hottest = max(
            (s for s in all_scenarios if not s.floor),
            key=lambda s: by_key[s.key]["subject_cpu_ms_per_request"],
        )
        log(f"profile: {hottest.title}, up to {options.profile_requests:,} requests in-process")
        profile = run_profile(bench, data, hottest, plan, options)
    finally:
        if services is not None:
            services.restore()
        os.sched_setaffinity(0, own_affinity)
    run = {
        "results": results,
        "rss": rss,
        "profile": profile,
        "options": asdict(options),
        "pinning": {
            "plan": plan.describe(),
            "services": pinning.describe_services(services),
            "app_cpus": plan.app_cpus,
            "load_cpus": plan.load_cpus,
        },
        "environment": report.environment(bench, wrk_version()),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "connections": CONNECTIONS,
        "uvicorn_flags": " ".join(UVICORN_FLAGS),
        "dependable_target": DEPENDABLE_TARGET,
        "data_seconds": data_seconds,
        "tasks": data.tasks,
        "seconds": time.monotonic() - began,
    }
    WORK.mkdir(exist_ok=True)
    (WORK / "last-run.json").write_text(json.dumps(run, indent=2, default=str))
    write_report(run)
    log(f"wrote docs/benchmarks.md and docs/img/benchmarks.png in {run['seconds']:.0f} s")


if __name__ == "__main__":
    main()
