"""The worker's loop: passes of relaying and housekeeping, until it is told to stop.

Every unit of work is a provider of the API's dependency graph, resolved with `resolved`
(app/http/outside_request.py) on the process's resources: `get_outbox_relay` for a batch,
`get_housekeeping` for a run, both on the API's own `get_session`, `get_settings` and
`get_resources`. No second wiring: a provider's new parameter reaches the worker as it reaches
the routes, each block commits (or rolls back) as a request does, and `overrides` replaces any
provider as `app.dependency_overrides` does (tests pass one). Proof:
tests/worker/test_wiring.py.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from typing import TypeVar

from app.core.resources import Resources
from app.core.tracing import span
from app.http.deps import get_resources
from app.http.outside_request import Provider, resolved
from app.outbox.dependencies import get_outbox_relay
from app.outbox.service import Backoff
from app.worker.heartbeat import Heartbeat
from app.worker.housekeeping import get_housekeeping
from app.worker.metrics import WorkerMetrics

logger = logging.getLogger("app.worker")

T = TypeVar("T")
# After a failed pass the next one waits longer, doubling from the poll interval up to this.
MAX_PAUSE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class PassResult:
    sent: int
    failed_publishes: int
    pending: int


class Worker:
    def __init__(
        self,
        resources: Resources,
        *,
        metrics: WorkerMetrics,
        heartbeat: Heartbeat,
        overrides: Mapping[Provider, Provider] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resources = resources
        self.settings = resources.settings.worker
        self.metrics = metrics
        self.heartbeat = heartbeat
        self.overrides = overrides or {}
        self.clock = clock
        self.next_housekeeping = clock()  # the first pass runs it
        self.failed_passes = 0
        poll = self.settings.poll_interval_seconds
        self.pause = Backoff(poll, max(poll, MAX_PAUSE_SECONDS))

    def provided(self, provider: Callable[..., Awaitable[T]]) -> AbstractAsyncContextManager[T]:
        """`provider`'s value for one unit of work: the API's graph over these resources."""
        return resolved(provider, given={get_resources: self.resources}, overrides=self.overrides)

    async def relay(self, stopping: asyncio.Event | None = None) -> tuple[int, int]:
        """Relay batches, each its own transaction, until one comes back short (nothing more
        is ready) or `stopping` is set; returns (events sent, failed publishes)."""
        sent = failed = 0
        while True:
            async with self.provided(get_outbox_relay) as relay:
                report = await relay.relay_batch()
            self.metrics.count_batch(report)
            sent += report.sent
            failed += report.failed
            if report.sent:
                logger.info("relayed %d events", report.sent)
            if not report.full or (stopping is not None and stopping.is_set()):
                return sent, failed

    async def housekeep_if_due(self) -> dict[str, int] | None:
        if self.clock() < self.next_housekeeping:
            return None
        self.next_housekeeping = self.clock() + self.settings.housekeeping_interval_seconds
        async with self.provided(get_housekeeping) as housekeeping:
            deleted = await housekeeping.run()
        self.metrics.count_housekeeping(deleted)
        if deleted is None:
            logger.info("housekeeping skipped: another worker is running it")
        else:
            # In words: a "refresh_tokens" key would be masked as a secret by the log redaction.
            logger.info(
                "housekeeping deleted %d relayed outbox rows, %d expired refresh tokens and %d "
                "idempotency keys",
                deleted["outbox"],
                deleted["refresh_tokens"],
                deleted["idempotency_keys"],
            )
        return deleted

    async def pass_once(self, stopping: asyncio.Event | None = None) -> PassResult | None:
        """One pass: relay what is ready, run housekeeping when it is due, measure the backlog,
        beat. A failure is logged and counted, and the heartbeat says "not ready"; the loop
        goes on (None)."""
        result = None
        try:
            with span("worker.pass"):  # with tracing on: the pass's statements in one trace
                sent, failed = await self.relay(stopping)
                if stopping is None or not stopping.is_set():
                    await self.housekeep_if_due()
                async with self.provided(get_outbox_relay) as relay:
                    backlog = await relay.backlog()
            self.metrics.observe_backlog(backlog)
            result = PassResult(sent=sent, failed_publishes=failed, pending=backlog.pending)
        except Exception as error:
            self.metrics.pass_errors.inc()
            logger.exception("worker pass failed")
            ready, detail = False, f"the last pass failed: {type(error).__name__}"
        else:
            ready = failed == 0
            detail = f"{backlog.pending} events pending"
            if failed:
                detail += f"; {failed} publishes failed (Redis?), retrying"
        self.failed_passes = 0 if ready else self.failed_passes + 1
        self.metrics.last_pass.set_to_current_time()
        self.heartbeat.beat(ready=ready, detail=detail)
        return result

    async def run(self, stopping: asyncio.Event) -> None:
        """Passes until `stopping` is set. The pass in hand is never interrupted here: it ends
        after its current batch (`until_stopped` bounds how long that may take)."""
        logger.info("worker started")
        while not stopping.is_set():
            await self.pass_once(stopping)
            # The poll interval; after failed passes, doubling from there.
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.pause.delay(self.failed_passes))
        logger.info("worker stopped")
