"""Per API key request limits of the REST API: a token bucket per key, in this process.

Past its burst, a key may make `api_rate_limit` requests a second; a request over the limit
answers 429 with `Retry-After` (whole seconds, rounded up) and does nothing. Several server
processes each keep their own buckets (the limit is per process). Tracking requests (write
keys) are not limited here: their backpressure is the processor's queue (`tracking_gate`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from smarketing.domain.rate_limit import TokenBucket
from smarketing.errors import TooManyRequestsError


class KeyRateLimiter:
    def __init__(
        self, rate: float, burst: int, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._now = now
        self._buckets: dict[int, TokenBucket] = {}
        self._lock = threading.Lock()
        self.refused = 0
        """Requests refused since the process started (for `/metrics`)."""

    def check(self, key_id: int, key_name: str) -> None:
        """Take one request from the key's bucket, or raise `TooManyRequestsError`."""
        if self.rate <= 0:
            return
        with self._lock:
            now = self._now()
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = TokenBucket.full(self.rate, self.burst, now)
            wait = bucket.take(now)
            self.refused += bool(wait)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequestsError(
                f"API key {key_name!r} made more than {self.burst:,} requests at once or "
                f"{self.rate:g} a second on average",
                retry_after_s=seconds,
                hint=f"send it again after {seconds} s; page with larger `limit`s, or raise "
                "SMARKETING_API_RATE_LIMIT",
            )
