"""The background worker: runs periodic jobs (queued tracking events, SLA breaches,
recycling, webhook delivery), and the tracking processor thread.

`smarketing worker` runs the jobs in the foreground; `serve` embeds them in a daemon thread for
the single-process default (`start_background_worker`), beside a processor thread that handles
queued tracking events as they arrive (`start_tracking_processor`). A job that raises is logged
and the loop goes on; the pause between rounds is the only waiting, and a stop event ends it at
once.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from smarketing.services import handoffs, webhooks
from smarketing.services.tracking import DEFAULT_CHUNK_EVENTS, Tracker
from smarketing.services.workspace import Workspace
from smarketing.settings import Settings

logger = logging.getLogger("smarketing.worker")

Job = Callable[[Workspace], object]
DEFAULT_INTERVAL_S = 2.0
ROUND_BUDGET_S = 2.0
"""Longest a round spends on queued tracking events before the other jobs' turn."""
DEFAULT_POLL_S = 0.1


class StopFlag(Protocol):
    """A `threading.Event` or a `multiprocessing` one."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class Backlog:
    processed: int
    more: bool = False
    """The round's time was up while events were coming: the next round should not wait."""

    @property
    def is_idle(self) -> bool:
        return self.processed == 0

    def describe(self) -> str:
        waiting = " (more are waiting)" if self.more else ""
        return f"processed {self.processed:,} queued tracking events{waiting}"


def process_tracking_backlog(ws: Workspace, *, budget_s: float = ROUND_BUDGET_S) -> Backlog:
    """Queued tracking events, chunk by chunk, for up to `budget_s` seconds: under a steady
    stream (`serve --no-processor` with workers) the round still ends, so SLA checks and
    webhook deliveries keep their turn, and the next round starts at once."""
    deadline = time.monotonic() + budget_s
    processed = Tracker(ws, inline=False).process_backlog(deadline=deadline)
    return Backlog(processed, more=processed > 0 and time.monotonic() >= deadline)


def default_jobs() -> list[Job]:
    """Queued events first (they move people), waiting MQLs to reps, SLA breaches (they emit
    webhooks), recycling, then delivery."""
    return [
        process_tracking_backlog,
        handoffs.route_waiting,
        handoffs.check_sla,
        handoffs.recycle_due,
        webhooks.dispatch_and_deliver,
    ]


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one job returned in one round, or the exception it raised."""

    job: str
    result: object = None
    error: BaseException | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.job} failed: {type(self.error).__name__}: {self.error}"
        describe = getattr(self.result, "describe", None)
        return str(describe()) if callable(describe) else f"{self.job}: {self.result!r}"


def _job_name(job: Job) -> str:
    return getattr(job, "__qualname__", None) or repr(job)


class Worker:
    """Runs `jobs` in order, one round per `run_once`, each against the workspace."""

    def __init__(self, ws: Workspace, jobs: Sequence[Job] | None = None) -> None:
        self.ws = ws
        self.jobs: list[Job] = list(default_jobs() if jobs is None else jobs)

    def run_once(self) -> list[JobOutcome]:
        """One round: every job once. An exception is logged and reported, never raised."""
        outcomes: list[JobOutcome] = []
        for job in self.jobs:
            name = _job_name(job)
            try:
                result = job(self.ws)
            except Exception as exc:
                logger.exception("worker job %s failed; the worker goes on", name)
                outcomes.append(JobOutcome(name, error=exc))
                continue
            outcomes.append(JobOutcome(name, result=result))
            _log_result(outcomes[-1])
        return outcomes

    def run_forever(self, stop: threading.Event, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        """Rounds until `stop` is set, pausing `interval_s` between them (not after a round
        that left queued events behind)."""
        while not stop.is_set():
            outcomes = self.run_once()
            behind = any(getattr(o.result, "more", False) for o in outcomes)
            stop.wait(0 if behind else interval_s)


def _log_result(outcome: JobOutcome) -> None:
    if not getattr(outcome.result, "is_idle", False):
        logger.info("%s", outcome.describe())


def start_background_worker(
    ws: Workspace,
    *,
    jobs: Sequence[Job] | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> tuple[threading.Thread, threading.Event]:
    """Start the worker in a daemon thread; set the event (then join) to stop it."""
    stop = threading.Event()
    worker = Worker(ws, jobs)
    thread = threading.Thread(
        target=worker.run_forever,
        args=(stop, interval_s),
        name="smarketing-worker",
        daemon=True,
    )
    thread.start()
    return thread, stop


def drain_forever(
    tracker: Tracker,
    stop: StopFlag,
    *,
    chunk: int = DEFAULT_CHUNK_EVENTS,
    poll_s: float = DEFAULT_POLL_S,
) -> None:
    """Process queued tracking events until `stop` is set: the next chunk at once while the
    last one was at least a tenth full (events keep coming: a pause would leave the queue to
    grow), otherwise a look every `poll_s` (a read: it takes no write lock), so events gather
    into chunks instead of one transaction per request."""
    while not stop.is_set():
        try:
            if tracker.process_pending(chunk) >= max(1, chunk // 10):
                continue
        except Exception:
            logger.exception("processing queued tracking events failed; retrying")
        stop.wait(poll_s)


def start_tracking_processor(tracker: Tracker) -> tuple[threading.Thread, threading.Event]:
    """The processor in a daemon thread of this process (`create_app(background_worker=True)`)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=drain_forever, args=(tracker, stop), name="smarketing-tracking", daemon=True
    )  # `tracker` should hand off what it accepts (`Tracker(..., hand_off=True)`)
    thread.start()
    return thread, stop


def _processor_main(settings: Settings, stop: StopFlag, parent: int) -> None:
    from smarketing.services.workspace import open_workspace

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us through `stop`

    def orphaned() -> None:  # the parent died without stopping us (e.g. SIGKILL)
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=orphaned, daemon=True).start()
    ws = open_workspace(settings)
    try:
        drain_forever(Tracker(ws, inline=False), stop)
    finally:
        ws.close()


@dataclass
class ProcessorProcess:
    """The processor in a child process (`smarketing serve`): the request path keeps a core
    of its own instead of sharing one interpreter lock with the processing."""

    process: multiprocessing.process.BaseProcess
    stop_flag: StopFlag

    def stop(self, timeout_s: float = 30) -> None:
        self.stop_flag.set()
        self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def spawn_tracking_processor(settings: Settings) -> ProcessorProcess:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(
        target=_processor_main,
        args=(settings, stop, os.getpid()),
        name="smarketing-tracking",
        daemon=True,
    )
    process.start()
    return ProcessorProcess(process, stop)
