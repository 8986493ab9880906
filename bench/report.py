"""docs/benchmarks.md and its chart, from one run's results."""

import asyncio
import math
import os
import platform
import re
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis

from bench.settings import BenchSettings, asyncpg_dsn

UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

PACKAGES = (
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "redis",
    "python-jose",
    "uvicorn",
    "uvloop",
    "httptools",
    "orjson",
)

# Issue 9's targets: median ratio to the baseline doing the same work.
RATIO_TARGETS = {
    "users-me": 0.50,
    "project": 0.50,
    "project-no-cache": 0.35,
    "deep-page": 0.35,
    "create": 0.25,
}
DEEP_VS_FIRST = 0.90  # the deep page no more than 10% slower than the first
P99_FACTOR = 3.0
RSS_GROWTH_PCT = 10.0

BASELINE_WORK = {
    "floor-empty": '`GET /empty`: a Starlette route returning `{"ok": true}`.',
    "floor-deps10": "the same empty Starlette route (FastAPI's ten dependencies have no "
    "counterpart: that is the point).",
    "users-me": "token; one Redis round trip (denylist `EXISTS`, caller `GET`); one "
    "transaction: `BEGIN; set_config(tenant)`, `SELECT` the user by id and tenant, `COMMIT`.",
    "project": "token; one Redis round trip (denylist `EXISTS`, caller `GET`, project `GET`); "
    "the cached project JSON is the body (no PostgreSQL). On a miss: one `SELECT`, then `SET`.",
    "project-no-cache": "token; one Redis round trip (denylist, caller); one transaction: "
    "`BEGIN; set_config`, `SELECT` the project by id and tenant, `COMMIT`.",
    "first-page": "token; one Redis round trip (denylist, caller, project); one transaction: "
    "`BEGIN; set_config`, `SELECT ... ORDER BY created_at, id LIMIT 51`, `COMMIT`; the next "
    "cursor signed as Dependable signs it.",
    "deep-page": "as the first page, after verifying the cursor's HMAC: "
    "`WHERE (created_at, id) > ($3, $4)` on the same index.",
    "create": "token; one Redis round trip (denylist, caller, project; member role checked); "
    "the body validated by hand (TaskCreate's rules); one transaction: `BEGIN; set_config`, "
    "`INSERT ... RETURNING`, the `task.created` event `INSERT`ed into the outbox (as Dependable "
    "records it, in the same transaction), `COMMIT`.",
}


def environment(bench: BenchSettings, wrk: str) -> dict[str, Any]:
    async def servers() -> tuple[str, str]:
        connection = await asyncpg.connect(asyncpg_dsn(bench.database_owner_url))
        try:
            postgres = str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()
        redis = Redis.from_url(bench.redis_url)
        try:
            info = await redis.info("server")
        finally:
            await redis.aclose()
        return postgres, str(info.get("redis_version"))

    postgres, redis = asyncio.run(servers())
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "python": platform.python_version(),
        "packages": {name: version(name) for name in PACKAGES},
        "postgresql": postgres,
        "redis_server": redis,
        "wrk": wrk,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 2**20, 1),
        "kernel": platform.release(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _by_key(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["key"]: result for result in run["results"]}


def targets(run: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met) for each of issue 9's targets."""
    results = _by_key(run)
    rows: list[tuple[str, str, bool | None]] = []
    for key, minimum in RATIO_TARGETS.items():
        result = results[key]
        rows.append(
            (
                f"{result['title']}: ratio at least {minimum:.2f}",
                f"{result['ratio_median']:.3f}",
                result["ratio_median"] >= minimum,
            )
        )
    first, deep = results["first-page"]["subject_rps"], results["deep-page"]["subject_rps"]
    rows.append(
        (
            "Deep page no more than 10% slower than the first page (Dependable)",
            f"{deep:,.0f} vs {first:,.0f} req/s ({deep / first:.2f})",
            deep >= DEEP_VS_FIRST * first,
        )
    )
    for result in run["results"]:
        if result["floor"]:
            continue
        served = result["subject_rps"] > 0 and result["baseline_p99_ms"] > 0
        factor = result["subject_p99_ms"] / result["baseline_p99_ms"] if served else math.inf
        rows.append(
            (
                f"{result['title']}: p99 at most {P99_FACTOR:.0f}x the baseline's",
                f"{result['subject_p99_ms']:.1f} vs {result['baseline_p99_ms']:.1f} ms "
                f"({factor:.1f}x)",
                factor <= P99_FACTOR,
            )
        )
    rss = run["rss"]
    if rss["growth_pct"] is None:
        rows.append(
            (
                "RSS growth from 20,000 to 200,000 mixed requests under 10%",
                f"not measured: {rss['to']['requests']:,} requests in the time limit",
                None,
            )
        )
    else:
        reached = rss["to"]["requests"]
        note = "" if reached >= rss["target_requests"] else f" (only to {reached:,} requests)"
        met = rss["growth_pct"] < RSS_GROWTH_PCT
        rows.append(
            (
                "RSS growth from 20,000 to 200,000 mixed requests under 10%",
                f"{rss['growth_pct']:+.1f}%: {rss['from']['rss_mb']:.0f} MB at "
                f"{rss['from']['requests']:,}, {rss['to']['rss_mb']:.0f} MB at {reached:,}{note}",
                met if reached >= rss["target_requests"] or not met else None,
            )
        )
    return rows


def _mark(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured in full"}[met]


def _ms(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def chart(run: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = run["results"]
    labels = [r["title"].replace("`", "") for r in results]
    positions = list(range(len(results)))
    figure, (rates, ratios, memory) = plt.subplots(
        1, 3, figsize=(17, 5.8), gridspec_kw={"width_ratios": [1.25, 1.25, 0.8]}
    )
    width = 0.38
    rates.barh(
        [p + width / 2 for p in positions],
        [r["baseline_rps"] for r in results],
        width,
        label="raw baseline",
        color="#9aa5b1",
    )
    rates.barh(
        [p - width / 2 for p in positions],
        [r["subject_rps"] for r in results],
        width,
        label="Dependable / FastAPI",
        color="#2f6fde",
    )
    rates.set_yticks(positions, labels)
    rates.invert_yaxis()
    rates.set_xscale("log")
    rates.set_xlabel("requests/s (median of the rounds, log scale)")
    rates.legend(loc="lower right")
    rates.set_title("Throughput, one uvicorn worker on one core")

    medians = [r["ratio_median"] for r in results]
    errors = [
        [m - r["ratio_min"] for m, r in zip(medians, results, strict=True)],
        [r["ratio_max"] - m for m, r in zip(medians, results, strict=True)],
    ]
    ratios.barh(positions, medians, xerr=errors, color="#2f6fde", capsize=3)
    for position, result in zip(positions, results, strict=True):
        target = RATIO_TARGETS.get(result["key"])
        if target is not None:
            ratios.plot([target, target], [position - 0.4, position + 0.4], color="#d9480f", lw=2)
        ratios.text(
            result["ratio_max"] + 0.01, position, f"{result['ratio_median']:.3f}", va="center"
        )
    ratios.plot([], [], color="#d9480f", lw=2, label="issue 9 target")
    ratios.set_yticks(positions, [""] * len(positions))
    ratios.invert_yaxis()
    ratios.set_xlim(0, max(1.0, max(r["ratio_max"] for r in results) + 0.1))
    ratios.set_xlabel("ratio to the baseline (median; whiskers: min and max round)")
    ratios.legend(loc="lower right")
    ratios.set_title("Ratio to the raw baseline")

    samples = run["rss"]["samples"]
    memory.plot(
        [s["requests"] / 1000 for s in samples], [s["rss_mb"] for s in samples], marker="o", ms=3
    )
    memory.axvline(20, color="#9aa5b1", ls="--", lw=1)
    memory.set_xlabel("mixed requests served (thousands)")
    memory.set_ylabel("RSS (MB)")
    memory.set_ylim(bottom=0)
    memory.set_title("Dependable worker memory")
    figure.suptitle(f"make bench, {run['environment']['date']}", fontsize=10, x=0.99, ha="right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown(run: dict[str, Any]) -> str:
    env = run["environment"]
    options = run["options"]
    results = run["results"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench` (bench/run.py, bench/report.py). Do not edit by hand: "
        "change the generator and run it again. -->",
        "",
        "Dependable measured side by side with a **raw baseline** that does the same work by hand "
        "(Starlette + asyncpg + python-jose + orjson, [bench/baseline.py](../bench/baseline.py)), "
        "as asked by issue 9. A ratio of 0.50 means Dependable serves half the baseline's "
        "requests per second. The floor rows compare FastAPI itself "
        "([bench/floor.py](../bench/floor.py)) with an empty Starlette route.",
        "",
        f"Run of {env['date']}, {run['seconds'] / 60:.1f} minutes, {options['rounds']} rounds of "
        f"{options['seconds']:.0f} s per side and scenario"
        + (" (**--quick**: too short to quote)" if options["quick"] else "")
        + f". Load average (1 min) {run['load_average']['before'][0]:.2f} before and "
        f"{run['load_average']['after'][0]:.2f} after: other work on the machine shows up as "
        "noise.",
        "",
        "![Throughput, ratio to the baseline, memory](img/benchmarks.png)",
        "",
        "## Results",
        "",
        "Medians of the rounds. Ratio: Dependable's (or FastAPI's) req/s over the baseline's in "
        "the same round; the rounds column lists every round's ratio. CPU: the server's CPU time "
        "per request, and how busy it kept its core. A server whose core is well below 100% was "
        "held back by something else (the load generator, PostgreSQL, Redis, other work on the "
        "machine), and its ratio says less about the code; the CPU ratio (the baseline's CPU per "
        "request over the subject's) then is the steadier figure. The targets are on the ratio "
        "of requests per second, as issue 9 states them.",
        "",
        "| scenario | baseline req/s | subject req/s | ratio | rounds | min - max | p50 ms "
        "(base / subj) | p99 ms (base / subj) | CPU ms/req (base / subj) | CPU ratio | core "
        "busy (base / subj) |",
        "|---|---:|---:|---:|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rounds = ", ".join(f"{x['ratio']:.3f}" for x in r["rounds"])
        errors = f" ({r['errors']} errors)" if r["errors"] else ""
        lines.append(
            f"| {r['title']} ({r['subject']}){errors} | {r['baseline_rps']:,.0f} | "
            f"{r['subject_rps']:,.0f} | **{r['ratio_median']:.3f}** | {rounds} | "
            f"{r['ratio_min']:.3f} - {r['ratio_max']:.3f} | {_ms(r['baseline_p50_ms'])} / "
            f"{_ms(r['subject_p50_ms'])} | {_ms(r['baseline_p99_ms'])} / "
            f"{_ms(r['subject_p99_ms'])} | {r['baseline_cpu_ms_per_request']:.2f} / "
            f"{r['subject_cpu_ms_per_request']:.2f} | "
            f"{r['baseline_cpu_ms_per_request'] / r['subject_cpu_ms_per_request']:.3f} | "
            f"{r['baseline_cpu_share']:.0%} / "
            f"{r['subject_cpu_share']:.0%} |"
        )
    lines += [
        "",
        "## Targets (issue 9)",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *(f"| {name} | {measured} | {_mark(met)} |" for name, measured, met in targets(run)),
        "",
        *_memory(run),
        *_profile(run["profile"]),
        "## What each baseline endpoint does",
        "",
        "The baseline reads the same environment as Dependable, connects to the same database as "
        "the same unprivileged role (`dependable_api`, so row-level security binds it), and "
        "verifies the token exactly as `JWTCodec` does (HS256 pinned, `kid`, signature, `iss`, "
        "`aud`, `exp`/`nbf`/`iat` with the leeway, every claim present). Its denylist check reads "
        "Dependable's own keys (`denylist:jti:<jti>`, `denylist:family:<fam>`). The caller (role, "
        "active, tenant active) is cached in Redis for `CACHE__PRINCIPAL_TTL_SECONDS` like "
        "Dependable's principal and tenant, and fetched in the same pipelined round trip as the "
        "denylist; on a miss, one `SELECT` joining users and tenants fills it. Every SQL statement "
        "also filters by the token's tenant. The baseline leaves out what the benchmark never "
        "exercises: the PostgreSQL fallback when Redis is down, `X-Tenant`, `Idempotency-Key`, "
        "full problem details.",
        "",
        "| scenario | the baseline's work per request |",
        "|---|---|",
        *(f"| {r['title']} | {BASELINE_WORK[r['key']]} |" for r in results),
        "",
        *_method(run),
        *_environment(run),
    ]
    return "\n".join(lines) + "\n"


def _memory(run: dict[str, Any]) -> list[str]:
    rss = run["rss"]
    samples = rss["samples"]
    reached = samples[-1]["requests"]
    limited = reached < rss["target_requests"]
    text = (
        f"A fresh Dependable worker (cache on) under a mixed load: {', '.join(rss['mix'])} in "
        f"turn, wrk at {run['connections']} connections, RSS read from /proc after every "
        f"{run['options']['rss_chunk']:.0f} s. It served {reached:,} requests"
        + (
            f", stopped by the time limit of {rss['time_limit_s']:.0f} s before "
            f"{rss['target_requests']:,} (`--rss-seconds` raises it)."
            if limited
            else "."
        )
    )
    if rss["growth_pct"] is not None:
        text += (
            f" RSS went from {rss['from']['rss_mb']:.1f} MB at {rss['from']['requests']:,} "
            f"requests to {rss['to']['rss_mb']:.1f} MB at {reached:,}: "
            f"**{rss['growth_pct']:+.1f}%**"
            + (
                f" (indicative only: the run never reached {20_000:,} requests, so this is "
                "measured from the first sample)."
                if rss.get("indicative")
                else "."
            )
        )
    points = ", ".join(f"{s['requests']:,}: {s['rss_mb']:.1f}" for s in samples)
    return ["## Memory", "", text, "", f"Samples (requests: MB): {points}.", ""]


def _profile(profile: dict[str, Any]) -> list[str]:
    cpu = profile["profiled_us"] - profile["wait_us"]
    lines = [
        f"## Where the time goes: {profile['title']}",
        "",
        f"The Dependable scenario with the most CPU per request in this run, "
        f"`{_template(profile['request'])}`, profiled with "
        f"cProfile over {profile['requests']:,} requests sent one at a time in-process (httpx "
        "ASGITransport, the app's real lifespan, the default asyncio loop; "
        "[bench/profile.py](../bench/profile.py)). The profiler is on only while the app handles "
        "a request, and it slows Python code down (roughly twofold): read the shares, not the "
        "absolute microseconds.",
        "",
        f"Per request: {profile['wall_us']:,.0f} µs wall time under the profiler, of which "
        f"{profile['wait_us']:,.0f} µs waiting for PostgreSQL and Redis and {cpu:,.0f} µs of "
        "CPU in the process.",
        "",
        "Own time by package (each frame's time excluding what it calls):",
        "",
        "| package | µs per request | share of CPU |",
        "|---|---:|---:|",
    ]
    for row in profile["by_package"]:
        if row["package"].startswith("waiting") or row["own_us"] < 0.5 / 100 * cpu:
            continue
        lines.append(f"| {row['package']} | {row['own_us']:,.0f} | {row['own_us'] / cpu:.0%} |")
    lines += [
        "",
        "Top frames by cumulative time (the frame and everything it calls; coroutines count only "
        "while running, not while suspended). Entries: how often the frame was entered per "
        "request; a coroutine is entered again each time it resumes after an await, so for a "
        "coroutine this is calls plus resumptions. Left out: the frames every request passes "
        "through whole (the middleware stack and routing, each over 85% of the total).",
        "",
        "| frame | entries per request | cumulative µs | own µs |",
        "|---|---:|---:|---:|",
    ]
    # Frames everything passes through (the middleware stack, routing) would fill the top rows
    # with the same total; they are left out.
    chain = 0.85 * profile["profiled_us"]
    shown = [f for f in profile["frames"] if f["cumulative_us"] < chain][:25]
    for frame in shown:
        name = _tidy_frame(frame["frame"]).replace("|", "\\|")
        lines.append(
            f"| `{name}` | {frame['calls']:.1f} | {frame['cumulative_us']:,.0f} | "
            f"{frame['own_us']:,.0f} |"
        )
    return [*lines, ""]


def _tidy_frame(frame: str) -> str:
    """Frame names as bench/profile.py writes them now (older results kept longer paths)."""
    frame = re.sub(r"^.*/site-packages/", "", frame)
    return re.sub(r"^(\.\d+/|.*/lib/python3\.\d+/)", "", frame)


def _template(path: str) -> str:
    """A request path with its ids as `{id}`."""
    return UUID_PATTERN.sub("{id}", path)


def _method(run: dict[str, Any]) -> list[str]:
    options = run["options"]
    return [
        "## Method",
        "",
        f"- **Data** ([bench/data.py](../bench/data.py)): a database of its own, "
        "`dependable_bench` (created if missing, `alembic upgrade heads` as the owner), refilled "
        f"each run in {run['data_seconds']:.0f} s with `generate_series`: three tenants, 51 users "
        f"each, 22 projects each, {run['tasks']:,} tasks in one project of the bench tenant and "
        "2,000 in one project of each other tenant. The create scenario writes to an empty "
        "project of its own, so the list scenarios see the same rows throughout. Access tokens "
        "are minted with the app's own `JWTCodec`; the deep cursor (the task 100 before the end) "
        "with its `CursorCodec`.",
        "- **Servers**: five single uvicorn workers, each "
        f"`uvicorn <target> {run['uvicorn_flags']}`: Dependable (`{run['dependable_target']}`) "
        "and the baseline (`--factory bench.baseline:create_app`), each with the project cache on "
        "and with `CACHE__PROJECT_TTL_SECONDS=0`, and the floor app; the scenarios are grouped "
        "so that only the two servers a scenario compares run at a time (each PostgreSQL pool "
        "may hold 30 connections). The same environment for "
        "all: `APP_ENV=production`, a random 64-character `AUTH__SECRET_KEY` per run, "
        "`API__DOCS_ENABLED=false`, `LOG_LEVEL=WARNING`, rate limiting on (the benchmarked "
        "routes are not rate limited, so never hit), JSON logs.",
        f"- **Pinning**: {run['pinning']['plan']} {run['pinning']['services']}",
        f"- **Load** ([bench/load.py](../bench/load.py)): wrk, one thread, {run['connections']} "
        "connections, a Lua script per run (headers, the POST body, and a `done` hook that prints "
        "the numbers). For each scenario: a warm-up of "
        f"{options['warmup']:.0f} s per side, then {options['rounds']} rounds of "
        f"{options['seconds']:.0f} s per side, the two sides loaded in turn and the order "
        "alternating between rounds. A response of 4xx/5xx or a socket error counts as an "
        "error; the table says so when there was one. Latencies are wrk's (from the load "
        "generator).",
        "- **Memory**: see above. **Profile**: see above.",
        "- **Reproduce**: `make bench` (`uv run python -m bench.run`); `--quick` for a short "
        "development run; `BENCH_DATABASE_URL`, `BENCH_DATABASE_OWNER_URL` and `BENCH_REDIS_URL` "
        "move the data (by default `dependable_bench` and Redis database 14, where the bench "
        "deletes only its own keys: `cache:*`, `baseline:*`, `events:*`, `denylist:*`).",
        "",
    ]


def _environment(run: dict[str, Any]) -> list[str]:
    env = run["environment"]
    packages = ", ".join(f"{name} {v}" for name, v in env["packages"].items())
    return [
        "## Environment",
        "",
        f"- Machine: {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB, Linux "
        f"{env['kernel']}.",
        f"- Python {env['python']}; {packages}.",
        f"- PostgreSQL {env['postgresql']}, Redis {env['redis_server']}, {env['wrk']}.",
    ]


def write(run: dict[str, Any], doc: Path, image: Path) -> None:
    chart(run, image)
    doc.write_text(markdown(run))


def summary(run: dict[str, Any]) -> str:
    lines = ["", "scenario                                   ratio   (min - max)   targets"]
    for r in run["results"]:
        lines.append(
            f"{r['title'].replace('`', ''):42} {r['ratio_median']:.3f}  "
            f"({r['ratio_min']:.3f} - {r['ratio_max']:.3f})"
        )
    lines.append("")
    lines += [f"{_mark(met):22} {name}: {measured}" for name, measured, met in targets(run)]
    return "\n".join(lines)
