"""The report registry: report name -> how to build it.

A report is one or more *sections*, each an Ibis expression over the unbound analytics tables
(built without any connection, compiled per engine), plus an optional `finish` step in plain
Python over the (small) Arrow results, for arithmetic such as the reverse funnel. Other
modules add reports with `register(ReportDef(...))`; `attribution` is added that way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import ibis.expr.types as ir
import pyarrow as pa

from smarketing.analytics.reports.period import Period
from smarketing.analytics.tables import Tables
from smarketing.errors import NotFoundError, UsageError
from smarketing.playbook.schema import Playbook


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """Options some reports take (a report lists the ones it accepts in `ReportDef.options`)."""

    ci: float | None = None
    """Attribution: confidence level of the bootstrap intervals (e.g. 0.95); None: none."""

    def given(self) -> list[str]:
        return [name for name in ("ci",) if getattr(self, name) is not None]


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What a builder may read: the period, the playbook in force, the unbound tables, and
    the options of this run."""

    period: Period
    playbook: Playbook
    tables: Tables
    options: ReportOptions = field(default_factory=ReportOptions)
    touch_order: bool = False
    """Whether the engine holds the touches sorted by journey for the playbook's `per`
    (`analytics.touch_order`: the DuckDB copy, kept by its sync)."""

    @property
    def today(self) -> date:
        return self.period.today


Sections = dict[str, ir.Table]
Finish = Callable[[ReportContext, dict[str, pa.Table]], dict[str, pa.Table]]


@dataclass(frozen=True, slots=True)
class ReportDef:
    name: str
    description: str
    build: Callable[[ReportContext], Sections]
    finish: Finish | None = None
    uses_period: bool = True
    columns_help: dict[str, str] = field(default_factory=dict)
    options: frozenset[str] = frozenset()
    """The `ReportOptions` fields this report reads; others are refused."""
    max_rows: int | None = None
    """Row cap of this report's sections when they are internal rows that `finish` reduces
    (attribution's sorted journey rows), not rows shown as they are; None: the run's cap."""

    def check(self, options: ReportOptions) -> None:
        """Refuse options this report does not read (a typo should not pass unnoticed)."""
        unknown = [name for name in options.given() if name not in self.options]
        if unknown:
            raise UsageError(
                f"report {self.name} takes no {', '.join(unknown)} option",
                hint="--ci is for the attribution report",
            )


REPORTS: dict[str, ReportDef] = {}


def register(report: ReportDef) -> ReportDef:
    """Add (or replace) a report under its name."""
    REPORTS[report.name] = report
    return report


def report_names() -> list[str]:
    _load_builtins()
    return sorted(REPORTS)


def get_report(name: str) -> ReportDef:
    _load_builtins()
    try:
        return REPORTS[name]
    except KeyError:
        raise NotFoundError(
            f"no report named {name!r}", hint=f"reports: {', '.join(sorted(REPORTS))}"
        ) from None


def _load_builtins() -> None:
    # Importing the report modules registers them (once).
    from smarketing.analytics.reports import (  # noqa: F401
        attribution,
        content,
        funnel,
        goals,
        impact,
        retention,
        sla,
        sources,
    )
