"""Failed dashboard logins, limited per email and client address: guessing gets slow.

Each (email, client address) may fail `FAILURES` times at once, then once every
`WINDOW_S / FAILURES` seconds (5 in 15 minutes); past that a login from there for that email
answers 429 with `Retry-After` without looking at the password. Keyed by the address too, so
someone failing on purpose from elsewhere does not lock the user out. A successful login
forgets the failures. Kept per server process; buckets that have refilled are dropped when
many are tracked.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from smarketing.domain.rate_limit import TokenBucket

FAILURES = 5
WINDOW_S = 15 * 60
MAX_TRACKED = 10_000


class LoginThrottle:
    def __init__(self, *, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._failures: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self.refused = 0
        """Logins refused since the process started (for `/metrics`)."""

    @staticmethod
    def _key(email: str, client: str) -> tuple[str, str]:
        return email.strip().lower(), client

    def retry_after(self, email: str, client: str) -> int:
        """Whole seconds until `email` may be tried again from `client` (0: now; anything
        else is a refusal)."""
        with self._lock:
            bucket = self._failures.get(self._key(email, client))
            wait = bucket.wait(self._now()) if bucket is not None else 0.0
            self.refused += wait > 0
        return math.ceil(wait)

    def failed(self, email: str, client: str) -> None:
        with self._lock:
            now = self._now()
            if len(self._failures) >= MAX_TRACKED:
                self._failures = {k: b for k, b in self._failures.items() if not b.is_full(now)}
            bucket = self._failures.setdefault(
                self._key(email, client), TokenBucket.full(FAILURES / WINDOW_S, FAILURES, now)
            )
            bucket.take(now)

    def succeeded(self, email: str, client: str) -> None:
        with self._lock:
            self._failures.pop(self._key(email, client), None)
