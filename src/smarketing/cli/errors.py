"""How the CLI shows an expected error: one line per problem on stderr, then the fix."""

from __future__ import annotations

import sys

from smarketing.errors import PlaybookError, SmarketingError


def report_error(exc: SmarketingError) -> None:
    if isinstance(exc, PlaybookError):
        for problem in exc.problems:
            print(problem, file=sys.stderr)
    fix = f"; {exc.hint}" if exc.hint else ""
    print(f"error: {exc.message}{fix}", file=sys.stderr)
