"""The attribution report's sorted journey rows give the credits of the per-touch path.

The report asks the engine for the touches of all kinds' converting journeys and every
journey's recent touches, sorted, with integer tokens (`journey_rows`), and cuts them into
paths in numpy; on the demo company, every model's credit per kind, dimension and token equals
the credit of `attribute_journeys` over the touch rows of `journey_touches` (the per-deal
breakdown and the export still read those).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from smarketing.analytics.attribution.journeys import (
    CONVERSION_KINDS,
    DIMENSIONS,
    JourneyQuery,
    journey_touches,
)
from smarketing.analytics.engines.base import Limits, execute
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.reports.attribution import (
    credit_rows,
    journey_credit_rows,
    journey_sections,
    settings_from_playbook,
)
from smarketing.analytics.reports.registry import ReportOptions
from smarketing.analytics.tables import unbound
from smarketing.services import reports
from smarketing.services.workspace import Workspace

PERIODS = ((datetime(2026, 10, 1), datetime(2027, 1, 1)), (datetime(2026, 7, 1), None))
LIMITS = Limits(max_rows=10_000_000)


@pytest.mark.parametrize("per", ["person", "account"])
@pytest.mark.parametrize("period", PERIODS)
def test_journey_rows_credit_like_the_touch_rows(
    demo_ws: Workspace, per: str, period: tuple[datetime, datetime | None]
) -> None:
    reports.sync_analytics(demo_ws)
    pb = demo_ws.playbook.playbook.attribution
    settings = settings_from_playbook(pb)
    base = JourneyQuery(
        per=per,  # type: ignore[arg-type]
        lookback_days=pb.lookback_days,
        start=period[0],
        end=period[1],
    )
    engine = DuckDBEngine(demo_ws.settings.analytics_path)
    compared = 0
    try:
        sections = journey_sections(unbound(), base)
        results = {key: execute(engine, expr, limits=LIMITS) for key, expr in sections.items()}
        got_by_kind = journey_credit_rows(results, settings=settings, ci=None)
        for kind in CONVERSION_KINDS:
            for dimension in DIMENSIONS:
                q = replace(base, kind=kind, dimension=dimension)
                touches = execute(engine, journey_touches(unbound(), q), limits=LIMITS)
                expected = credit_rows(touches, won=kind == "won", settings=settings, ci=None)
                got = got_by_kind[(kind, dimension)].to_pylist()
                assert [(r["model"], r["channel"]) for r in got] == [
                    (r["model"], r["channel"]) for r in expected
                ], (kind, dimension)
                for old, new in zip(expected, got, strict=True):
                    for column in ("conversions", "value"):
                        assert new[column] == pytest.approx(old[column], rel=1e-9, abs=1e-6), (
                            kind,
                            dimension,
                            old["model"],
                            old["channel"],
                            column,
                        )
                compared += len(got)
    finally:
        engine.close()
    assert compared > 0


def test_a_period_without_conversions_gives_no_credit(demo_ws: Workspace) -> None:
    for options in (ReportOptions(), ReportOptions(ci=0.9)):
        result = reports.run_report(
            demo_ws, "attribution", period="2024-Q1", report_options=options
        )
        assert result.sections["credits"].num_rows == 0
