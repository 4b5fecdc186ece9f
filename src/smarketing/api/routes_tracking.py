"""The Segment-compatible tracking API: `/v1/track|identify|page|screen|group|alias|batch`.

Works with the official Segment and RudderStack clients unchanged: write key as the HTTP Basic
user name (or `writeKey` in the body), gzip bodies, `sentAt` for clock correction. Answers 200
only after the batch is committed; invalid events are kept as failed events with their reason.
While the processor's queue is full, 429 with `Retry-After` (`services.tracking_gate`).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from smarketing.errors import PayloadTooLargeError, ValidationFailed
from smarketing.ingest.segment import CallType, parse_time
from smarketing.services.tracking import BatchResult, Tracker

router = APIRouter(prefix="/v1", tags=["tracking"])


def _tracker(request: Request) -> Tracker:
    tracker: Tracker = request.app.state.tracker
    return tracker


async def _body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"request body is {int(declared):,} bytes; the limit is {limit:,}",
            hint="send smaller batches",
        )
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLargeError(
                f"request body exceeds {limit:,} bytes", hint="send smaller batches"
            )
    data = bytes(raw)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(data, limit + 1)
        except zlib.error as exc:
            raise ValidationFailed(f"body is not valid gzip: {exc}") from None
        if len(data) > limit or inflater.unconsumed_tail:
            raise PayloadTooLargeError(f"decompressed body exceeds {limit:,} bytes")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(
            f"body is not valid JSON: {exc}", hint="send one JSON object per request"
        ) from None


async def _admit(tracker: Tracker) -> None:
    """429 before reading the body while the processor's queue is full (`tracking_gate`)."""
    gate = tracker.gate
    if gate is None:
        return
    if gate.stale:
        await run_in_threadpool(gate.refresh)
    gate.admit()


def _write_key(request: Request, body: Any) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            user = base64.b64decode(header[6:].strip()).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationFailed("malformed Basic authorization header") from None
        if user:
            return user
    key = body.get("writeKey") if isinstance(body, dict) else None
    return key if isinstance(key, str) else None


def _answer(result: BatchResult) -> Response:
    body = orjson.dumps(
        {
            "success": True,
            "stored": result.count("stored"),
            "duplicates": result.count("duplicate"),
            "failed": result.count("failed"),
            "results": [
                {
                    "index": r.index,
                    "messageId": r.message_id,
                    "status": r.status,
                    **({"error": r.error} if r.error else {}),
                }
                for r in result.results
            ],
        }
    )
    return Response(body, media_type="application/json")


async def _single(request: Request, call: CallType) -> Response:
    tracker = _tracker(request)
    await _admit(tracker)
    body = await _body(request, tracker.ws.settings.max_event_bytes)
    source = tracker.source_for(_write_key(request, body))
    result = await run_in_threadpool(
        tracker.ingest, source, [body], received_at=tracker.ws.clock.now(), call=call
    )
    (only,) = result.results
    if only.status == "failed":
        raise ValidationFailed(
            only.error or "invalid event",
            hint="the event was kept as a failed event; fix the sender, then "
            "`smarketing events replay-failed`",
        )
    return _answer(result)


@router.post("/batch")
async def batch(request: Request) -> Response:
    """Many calls at once: `{"batch": [...], "context": {...}, "sentAt": "..."}`."""
    tracker = _tracker(request)
    await _admit(tracker)
    settings = tracker.ws.settings
    body = await _body(request, settings.max_batch_bytes)
    source = tracker.source_for(_write_key(request, body))
    items = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValidationFailed("`batch` must be a list of calls", hint='send {"batch": [...]}')
    if len(items) > settings.max_batch_events:
        raise PayloadTooLargeError(
            f"batch has {len(items):,} events; the limit is {settings.max_batch_events:,}",
            hint="split it into smaller batches",
        )
    context = body.get("context") if isinstance(body.get("context"), dict) else None
    sent_at = parse_time(body.get("sentAt"), "sentAt")
    result = await run_in_threadpool(
        tracker.ingest,
        source,
        items,
        received_at=tracker.ws.clock.now(),
        sent_at=sent_at,
        batch_context=context,
    )
    return _answer(result)


@router.post("/track")
async def track(request: Request) -> Response:
    """Record an action a person took (`event`, `properties`)."""
    return await _single(request, CallType.TRACK)


@router.post("/identify")
async def identify(request: Request) -> Response:
    """Tie a person to their traits (`userId`, `traits.email`, ...)."""
    return await _single(request, CallType.IDENTIFY)


@router.post("/page")
async def page(request: Request) -> Response:
    """Record a page view (`properties.url`, `referrer`; UTMs in `context.campaign`)."""
    return await _single(request, CallType.PAGE)


@router.post("/screen")
async def screen(request: Request) -> Response:
    """Record an app screen view."""
    return await _single(request, CallType.SCREEN)


@router.post("/group")
async def group(request: Request) -> Response:
    """Tie a person to an account (`groupId`, `traits`)."""
    return await _single(request, CallType.GROUP)


@router.post("/alias")
async def alias(request: Request) -> Response:
    """Join a previous id to a user id (`previousId`, `userId`)."""
    return await _single(request, CallType.ALIAS)
