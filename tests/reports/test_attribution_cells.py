"""The attribution report's engine cells give the credits of the per-touch path.

The report asks the engine for small cells (`journey_cells`) instead of every touch of every
journey; on the demo company, every model's credit per kind, dimension and token equals the
credit of `attribute_journeys` over the touch rows of `journey_touches` (the per-deal breakdown
and the export still read those).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from smarketing.analytics.attribution.journey_cells import (
    chain_cells,
    credit_cells,
    recent_cells,
)
from smarketing.analytics.attribution.journeys import (
    CONVERSION_KINDS,
    DIMENSIONS,
    JourneyQuery,
    journey_touches,
)
from smarketing.analytics.engines.base import Limits, execute
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.reports.attribution import (
    cell_rows,
    credit_rows,
    settings_from_playbook,
)
from smarketing.analytics.tables import unbound
from smarketing.services import reports
from smarketing.services.workspace import Workspace

PERIODS = ((datetime(2026, 10, 1), datetime(2027, 1, 1)), (datetime(2026, 7, 1), None))
LIMITS = Limits(max_rows=10_000_000)


@pytest.mark.parametrize("per", ["person", "account"])
@pytest.mark.parametrize("period", PERIODS)
def test_cells_credit_like_the_touch_rows(
    demo_ws: Workspace, per: str, period: tuple[datetime, datetime | None]
) -> None:
    reports.sync_analytics(demo_ws)
    pb = demo_ws.playbook.playbook.attribution
    settings = settings_from_playbook(pb)
    engine = DuckDBEngine(demo_ws.settings.analytics_path)
    compared = 0
    try:
        for kind in CONVERSION_KINDS:
            base = JourneyQuery(
                kind=kind,
                per=per,  # type: ignore[arg-type]
                lookback_days=pb.lookback_days,
                start=period[0],
                end=period[1],
            )
            credit = execute(
                engine,
                credit_cells(
                    unbound(),
                    base,
                    won=kind == "won",
                    half_life_days=pb.time_decay_half_life_days,
                ),
                limits=LIMITS,
            )
            chain = pa.concat_tables(
                [
                    execute(engine, recent_cells(unbound(), base), limits=LIMITS),
                    execute(engine, chain_cells(unbound(), base), limits=LIMITS),
                ]
            )
            for dimension in DIMENSIONS:
                q = replace(base, dimension=dimension)
                touches = execute(engine, journey_touches(unbound(), q), limits=LIMITS)
                expected = credit_rows(touches, won=kind == "won", settings=settings, ci=None)
                got = cell_rows(
                    credit.filter(pc.equal(credit["dimension"], dimension)),
                    chain.filter(pc.equal(chain["dimension"], dimension)),
                    settings=settings,
                    ci=None,
                )
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
