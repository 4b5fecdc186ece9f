"""`GET /metrics`: Prometheus text exposition for the people who run the server.

Whether tracking keeps up (events waiting for the processor, the oldest one's wait, the
queue's limit, failed events to replay: read from the store, so they hold for every process)
and what this process answered and refused since it started (counters). Any API key may read
it (Prometheus sends one with `authorization: {credentials: smk_...}`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from smarketing import __version__
from smarketing.api.deps import ANY_ROLE, Caller, WorkspaceDep, require
from smarketing.api.rate_limits import KeyRateLimiter
from smarketing.services.tracking import Tracker
from smarketing.services.tracking_status import tracking_status
from smarketing.store import migrations_runner
from smarketing.web.login_throttle import LoginThrottle

router = APIRouter(tags=["meta"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Sample = tuple[dict[str, str], float]


def _family(name: str, kind: str, help_: str, samples: Iterable[Sample]) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        number = str(int(value)) if float(value).is_integer() else repr(float(value))
        lines.append(f"{name}{{{text}}} {number}" if text else f"{name} {number}")
    return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(
    request: Request, ws: WorkspaceDep, _c: Annotated[Caller, Depends(require(*ANY_ROLE))]
) -> PlainTextResponse:
    """Prometheus metrics: tracking queue and lag, refusals (429s), events by outcome."""
    tracker: Tracker = request.app.state.tracker
    limiter: KeyRateLimiter = request.app.state.rate_limiter
    throttle: LoginThrottle = request.app.state.login_throttle
    status = tracking_status(ws)
    schema = migrations_runner.current_revision(ws.db.engine) or ""
    lines = [
        *_family("smarketing_info", "gauge", "Version and schema revision.",
                 [({"version": __version__, "schema": schema}, 1)]),
        *_family("smarketing_tracking_queue_waiting", "gauge",
                 "Accepted tracking events the processor has not resolved yet.",
                 [({}, status.waiting)]),
        *_family("smarketing_tracking_queue_lag_seconds", "gauge",
                 "How long the oldest waiting event has waited.", [({}, status.lag_s)]),
        *_family("smarketing_tracking_queue_limit", "gauge",
                 "Waiting events past which /v1 answers 429 (0: no limit).",
                 [({}, status.queue_limit)]),
        *_family("smarketing_failed_events_to_replay", "gauge",
                 "Tracked events that failed validation and were not replayed.",
                 [({}, status.failed_to_replay)]),
        *_family("smarketing_tracking_events_total", "counter",
                 "Tracking events this process answered, by outcome.",
                 [({"status": k}, v) for k, v in tracker.outcome_counts().items()]),
        *_family("smarketing_tracking_refused_total", "counter",
                 "Tracking requests this process refused with 429 (queue full).",
                 [({}, tracker.gate.refused if tracker.gate else 0)]),
        *_family("smarketing_api_rate_limited_total", "counter",
                 "REST API requests this process refused with 429 (key over its rate).",
                 [({}, limiter.refused)]),
        *_family("smarketing_login_throttled_total", "counter",
                 "Dashboard logins this process refused with 429 (too many failures).",
                 [({}, throttle.refused)]),
    ]  # fmt: skip
    return PlainTextResponse("\n".join(lines) + "\n", media_type=CONTENT_TYPE)
