"""The worker process: settings and resources as the API opens them, the metrics endpoint, the
loop, and shutdown on SIGTERM.

On SIGTERM (or SIGINT) the loop stops taking batches; the batch in hand finishes, its rows
marked sent and committed, for up to WORKER__SHUTDOWN_TIMEOUT_SECONDS. Past that it is
abandoned: cancelled, its transaction rolled back, its rows (and their locks) left for the next
worker, which publishes them again (consumers drop the repeats by id). Then the pools close,
within OPERATIONS__SHUTDOWN_TIMEOUT_SECONDS, as the API's lifespan closes them.
"""

import asyncio
import logging
import signal
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from app.core.config import Settings, WorkerSettings
from app.core.db import verify_database_role
from app.core.metrics import AppMetrics
from app.core.resources import open_resources
from app.worker.heartbeat import Heartbeat
from app.worker.loop import Worker
from app.worker.metrics import WorkerMetrics

logger = logging.getLogger("app.worker")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve_metrics(settings: WorkerSettings, metrics: WorkerMetrics) -> WSGIServer | None:
    """prometheus-client's server, on a thread of its own (it reads the counters only)."""
    if not settings.metrics_port:
        return None
    server, _ = start_http_server(
        settings.metrics_port, addr=settings.metrics_host, registry=metrics.app.registry
    )
    logger.info("metrics on %s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return server


async def until_stopped(
    worker: Worker, stopping: asyncio.Event, *, shutdown_timeout_seconds: float
) -> None:
    """Run `worker` until `stopping` is set, then let the pass in hand end: its current batch
    finishes, or is cancelled (rolled back) after `shutdown_timeout_seconds`."""
    running = asyncio.create_task(worker.run(stopping))
    stopped = asyncio.create_task(stopping.wait())
    await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not running.done():
        done, _ = await asyncio.wait({running}, timeout=shutdown_timeout_seconds)
        if not done:
            logger.warning(
                "the batch in hand did not finish within %g s: abandoning it (rolled back; "
                "its events will be published again)",
                shutdown_timeout_seconds,
            )
            running.cancel()
            await asyncio.wait({running})
            return
    running.result()  # a crash of the loop itself propagates


@contextmanager
def stopped_by_signals(stopping: asyncio.Event) -> Iterator[None]:
    """SIGTERM (what `docker stop` and Kubernetes send) and SIGINT set `stopping`."""
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        logger.info("%s: finishing the batch in hand, then stopping", signum.name)
        stopping.set()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        yield
    finally:
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)


async def run_worker(settings: Settings) -> None:
    if settings.database.worker_url is None:
        logger.warning(
            "DATABASE__WORKER_URL is unset: the worker connects as DATABASE__URL's role, which "
            "may not run the relay's functions (docs/security.md, 'The worker's crossings')"
        )
    # The worker connects as its own login role: the only one that may run the relay's
    # cross-tenant functions. Everything else is the API's settings.
    settings = settings.model_copy(update={"database": settings.database.for_worker()})
    metrics = WorkerMetrics(AppMetrics())
    async with AsyncExitStack() as stack:
        resources = await stack.enter_async_context(
            open_resources(settings, metrics.app, component="worker")
        )
        # The same check as the API's lifespan: row-level security must bind this role too.
        await verify_database_role(
            resources.engine,
            refuse=not settings.is_development,
            wait_seconds=settings.database.connect_timeout_seconds
            + settings.health.check_timeout_seconds,
        )
        server = serve_metrics(settings.worker, metrics)
        try:
            worker = Worker(
                resources,
                metrics=metrics,
                heartbeat=Heartbeat(settings.worker.heartbeat_path),
            )
            stopping = asyncio.Event()
            with stopped_by_signals(stopping):
                await until_stopped(
                    worker,
                    stopping,
                    shutdown_timeout_seconds=settings.worker.shutdown_timeout_seconds,
                )
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
        # Bounded as the API's lifespan bounds it: a hung server cannot hold the process past
        # the orchestrator's grace period.
        async with asyncio.timeout(settings.operations.shutdown_timeout_seconds):
            await stack.aclose()
