"""The background worker: runs periodic jobs (SLA breaches, recycling, webhook delivery).

`smarketing worker` runs it in the foreground; `serve` embeds it in a daemon thread for the
single-process default (`start_background_worker`). A job that raises is logged and the loop
goes on; the pause between rounds is the only waiting, and a stop event ends it at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smarketing.services import handoffs, webhooks
from smarketing.services.workspace import Workspace

logger = logging.getLogger("smarketing.worker")

Job = Callable[[Workspace], object]
DEFAULT_INTERVAL_S = 2.0


def default_jobs() -> list[Job]:
    """SLA breaches first (they emit webhooks), then recycling, then delivery."""
    return [handoffs.check_sla, handoffs.recycle_due, webhooks.dispatch_and_deliver]


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
        """Rounds until `stop` is set, pausing `interval_s` between them."""
        while not stop.is_set():
            self.run_once()
            stop.wait(interval_s)


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
