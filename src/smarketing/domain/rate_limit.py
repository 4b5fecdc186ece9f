"""Token buckets: whether a caller may make a request now, and how long to wait if not.

A bucket holds up to `burst` tokens and gains `rate` of them a second; a request takes one.
Pure: the caller passes the time (a monotonic clock), so a test needs no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float
    """Tokens gained a second (> 0)."""
    burst: float
    """Most tokens held: requests that may come at once."""
    tokens: float
    at: float
    """When `tokens` was last brought up to date."""

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate=rate, burst=burst, tokens=burst, at=now)

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0.0: there is one); takes nothing."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> float:
        """Take a token: 0.0 when there was one; else the seconds until there is one (and
        nothing is taken)."""
        wait = self.wait(now)
        if not wait:
            self.tokens -= 1
        return wait

    def is_full(self, now: float) -> bool:
        """Back to `burst`: the bucket remembers nothing a new one would not."""
        self.wait(now)
        return self.tokens >= self.burst
