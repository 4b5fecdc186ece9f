"""`GET /api/reports`, `GET /api/reports/{name}`: closed-loop reports as JSON rows."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from smarketing.api.deps import ANY_ROLE, Caller, WorkspaceDep, require

router = APIRouter(prefix="/api", tags=["reports"])
Reader = Annotated[Caller, Depends(require(*ANY_ROLE))]


class ReportInfo(BaseModel):
    name: str
    description: str


class SectionPublic(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]


class PeriodPublic(BaseModel):
    label: str
    start: date
    end: date = Field(description="Exclusive.")


class ReportPublic(BaseModel):
    report: str
    period: PeriodPublic | None
    engine: str
    sections: dict[str, SectionPublic]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):  # NaN is not JSON
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@router.get("/reports")
def list_reports(_c: Reader) -> list[ReportInfo]:
    """The reports this server can run."""
    from smarketing.analytics.reports.registry import get_report, report_names

    return [ReportInfo(name=n, description=get_report(n).description) for n in report_names()]


@router.get("/reports/{name}")
def get_report_rows(
    ws: WorkspaceDep,
    _c: Reader,
    name: str,
    period: Annotated[
        str | None, Query(description="2026-Q4, 2026-11, 2026 or last-90-days.")
    ] = None,
    engine: Literal["duckdb", "postgres"] = "duckdb",
    ci: Annotated[
        float | None,
        Query(
            gt=0,
            lt=1,
            description="attribution: bootstrap intervals at this confidence level (e.g. 0.95).",
        ),
    ] = None,
) -> ReportPublic:
    """A report's sections as JSON rows (money as numbers, times in ISO 8601 UTC)."""
    from smarketing.analytics.reports.registry import ReportOptions
    from smarketing.services import reports

    result = reports.run_report(
        ws, name, period=period, engine=engine, report_options=ReportOptions(ci=ci)
    )
    body = result.as_json()
    for section in body["sections"].values():
        section["rows"] = [{k: _plain(v) for k, v in row.items()} for row in section["rows"]]
    return ReportPublic.model_validate(body)
