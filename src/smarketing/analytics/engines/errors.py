"""Typed errors of the engine gate, in the one error tree (`SmarketingError`).

They live beside the gate until `smarketing.errors` adopts them; surfaces map them like any
other `SmarketingError` (HTTP status and CLI exit code below).
"""

from __future__ import annotations

from smarketing.errors import DatabaseUnavailableError, SmarketingError


class EngineError(SmarketingError):
    """A query failed on an analytics engine (the message names the engine and the cause)."""

    http_status = 500
    exit_code = 1
    title = "Analytics query failed"


class QueryTimeoutError(EngineError):
    http_status = 504
    title = "Analytics query timed out"


class RowLimitError(EngineError):
    http_status = 413
    title = "Analytics result too large"


class EngineUnavailableError(DatabaseUnavailableError):
    """The engine cannot be used here: not installed, no data, or its file is locked."""

    title = "Analytics engine unavailable"
