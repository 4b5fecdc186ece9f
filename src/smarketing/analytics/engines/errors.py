"""Typed errors of the engine gate: defined in the one error tree (`smarketing.errors`)."""

from smarketing.errors import (
    EngineError,
    EngineUnavailableError,
    QueryTimeoutError,
    RowLimitError,
)

__all__ = ["EngineError", "EngineUnavailableError", "QueryTimeoutError", "RowLimitError"]
