"""`create_app(settings)`: the FastAPI application. No global app, engine or settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from smarketing import __version__
from smarketing.api import (
    routes_attribution,
    routes_meta,
    routes_metrics,
    routes_people,
    routes_reports,
    routes_sales,
    routes_scores,
    routes_tracking,
)
from smarketing.api.problems import TOO_MANY_REQUESTS, install_problem_handlers
from smarketing.api.rate_limits import KeyRateLimiter
from smarketing.domain.clock import Clock
from smarketing.services.tracking import Tracker
from smarketing.services.worker import (
    default_jobs,
    process_tracking_backlog,
    spawn_tracking_processor,
    start_background_worker,
    start_tracking_processor,
)
from smarketing.services.workspace import open_workspace
from smarketing.settings import Settings
from smarketing.web import routes as web_routes
from smarketing.web.login_throttle import LoginThrottle

ROUTERS = (
    routes_meta.router,
    routes_metrics.router,
    routes_people.router,
    routes_sales.router,
    routes_scores.router,
    routes_tracking.router,
    routes_reports.router,
    routes_attribution.router,
)


class DemoBanner(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["X-Smarketing-Demo"] = "this workspace holds generated demo data"
        return response


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    background_worker: bool = False,
    tracking_processor: Literal["inline", "thread", "process", "external"] | None = None,
) -> FastAPI:
    """Build the app for one workspace. Opening fails fast (schema behind, no database).

    `background_worker` runs the worker's jobs (SLA checks, webhook delivery) in a thread of
    this process. `tracking_processor` says who resolves tracked events: `inline`, each
    request before it answers (the default without a background worker); `thread`, a
    processor thread of this process (the default with one); `process`, a processor child
    process started and stopped with the app (`smarketing serve`), so the request path keeps
    a core of its own; `external`, none here: requests only queue events, for a
    `smarketing worker` elsewhere to resolve (several API servers on one database).
    """
    workspace = open_workspace(settings, clock=clock)
    processing = tracking_processor or ("thread" if background_worker else "inline")
    tracker = Tracker(workspace, inline=processing == "inline", hand_off=processing == "thread")
    # The processor drains the queue; the worker's backlog job is for processes without one.
    jobs = [job for job in default_jobs() if job is not process_tracking_backlog]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threads = [start_background_worker(workspace, jobs=jobs)] if background_worker else []
        if processing == "thread":
            threads.append(start_tracking_processor(tracker))
        child = spawn_tracking_processor(settings) if processing == "process" else None
        yield
        for _, stop in threads:
            stop.set()
        if child is not None:
            child.stop()
        for thread, _ in threads:
            thread.join(timeout=10)
        workspace.close()

    app = FastAPI(
        title="smarketing",
        version=__version__,
        description="REST and tracking API of smarketing. Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
    )
    app.state.workspace = workspace
    app.state.tracker = tracker
    app.state.rate_limiter = KeyRateLimiter(settings.api_rate_limit, settings.api_rate_burst)
    app.state.login_throttle = LoginThrottle()
    install_problem_handlers(app)
    if settings.is_demo:
        app.add_middleware(DemoBanner)
    for router in ROUTERS:  # every route but the health check can answer 429 (key, queue)
        limited = router is not routes_meta.router
        app.include_router(router, responses=TOO_MANY_REQUESTS if limited else None)
    app.include_router(web_routes.router)
    return app
