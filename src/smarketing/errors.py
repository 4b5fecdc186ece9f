"""One error tree for the whole product.

Every error knows the HTTP status a surface answers with and the exit code the CLI ends with.
Messages say what was wrong *and* what to do about it; surfaces print them as they are.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SmarketingError(Exception):
    """Base of every error smarketing raises on purpose."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    @property
    def type_slug(self) -> str:
        """A stable kebab-case name used as the problem+json `type`."""
        name = type(self).__name__.removesuffix("Error")
        out = []
        for i, ch in enumerate(name):
            if ch.isupper() and i:
                out.append("-")
            out.append(ch.lower())
        return "".join(out)


class UsageError(SmarketingError):
    """The caller asked for something that cannot work as asked (bad setup, bad argument)."""

    http_status = 400
    exit_code = 2
    title = "Bad request"


class WorkspaceNotFoundError(UsageError):
    title = "Workspace not found"


class DatabaseUnavailableError(UsageError):
    http_status = 503
    title = "Database unavailable"


class SchemaBehindError(UsageError):
    http_status = 503
    title = "Database schema is behind"


class PlaybookError(UsageError):
    """The playbook file cannot be used; `problems` lists each `file:line:col: field: message`."""

    http_status = 422
    title = "Invalid playbook"

    def __init__(self, message: str, *, problems: list[str] | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        return "\n".join(self.problems)


class ValidationFailed(SmarketingError):
    """Input that is well-formed but breaks a rule (HTTP 422)."""

    http_status = 422
    exit_code = 1
    title = "Validation failed"

    @property
    def type_slug(self) -> str:
        return "validation-failed"


class NotFoundError(SmarketingError):
    http_status = 404
    exit_code = 1
    title = "Not found"


class ConflictError(SmarketingError):
    http_status = 409
    exit_code = 1
    title = "Conflict"


class AuthenticationError(SmarketingError):
    http_status = 401
    exit_code = 2
    title = "Authentication required"


class PermissionDeniedError(SmarketingError):
    http_status = 403
    exit_code = 2
    title = "Permission denied"


class PayloadTooLargeError(SmarketingError):
    http_status = 413
    exit_code = 1
    title = "Payload too large"


class TooManyRequestsError(SmarketingError):
    """The server is behind (HTTP 429): nothing was stored; send the same request again after
    `retry_after_s` seconds (the Segment and RudderStack clients do by themselves)."""

    http_status = 429
    exit_code = 1
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after_s: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class ImportFileError(UsageError):
    """A whole import file is unusable (encoding, missing columns); row errors go to a CSV."""

    title = "Import file cannot be read"


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
