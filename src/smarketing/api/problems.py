"""RFC 9457 problem+json: the one place errors become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from smarketing.errors import PlaybookError, SmarketingError, TooManyRequestsError

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("smarketing.api")


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    # Segment-style clients read `code` and `message` from error bodies.
    body.setdefault("code", type_.rsplit("/", 1)[-1])
    body.setdefault("message", detail)
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


TOO_MANY_REQUESTS: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Over a limit (an API key's rate; for /v1, the processor's queue): "
        "nothing was done; send the same request again after `Retry-After` seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
        "content": {PROBLEM_JSON: {}},
    }
}
"""The 429 answer in the OpenAPI description of every route that can give it."""


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(SmarketingError)
    async def _smarketing(request: Request, exc: SmarketingError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if exc.hint:
            extra["hint"] = exc.hint
        if isinstance(exc, PlaybookError) and exc.problems:
            extra["problems"] = exc.problems
        if exc.details:
            extra.update(exc.details)
        headers = None
        if isinstance(exc, TooManyRequestsError):
            extra["retry_after"] = exc.retry_after_s
            headers = {"Retry-After": str(exc.retry_after_s)}
        return problem(
            exc.http_status,
            exc.title,
            exc.message,
            type_=f"https://smarketing.dev/problems/{exc.type_slug}",
            headers=headers,
            **extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['loc']}: {e['message']}" for e in errors[:5])
        return problem(
            422,
            "Validation failed",
            detail,
            type_="https://smarketing.dev/problems/validation-failed",
            errors=errors,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))
