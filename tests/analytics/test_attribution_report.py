"""The attribution report over the demo company: every model's credit sums to the period's
conversions and revenue, per conversion kind and dimension."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smarketing.demo import build_demo
from smarketing.domain.clock import FrozenClock
from smarketing.services.reports import run_report
from smarketing.services.workspace import open_workspace
from smarketing.settings import load_settings
from smarketing.store.tables import deals, transitions

DAY = date(2026, 11, 28)


def test_credits_sum_to_the_conversions_of_the_period(tmp_path: Path) -> None:
    settings = load_settings(workspace=tmp_path / "demo")
    build_demo(settings, people=400, seed=5, progress=False, today=DAY)
    ws = open_workspace(settings)
    try:
        ws.clock = FrozenClock(datetime(2026, 11, 28, 9, tzinfo=UTC))
        result = run_report(ws, "attribution", period="2026-Q3")
        with ws.db.read() as conn:
            start, end = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
            first_mql = (
                select(transitions.c.person_id, func.min(transitions.c.at).label("at"))
                .where(transitions.c.to_stage == "mql")
                .group_by(transitions.c.person_id)
                .subquery()
            )
            mqls = conn.execute(
                select(func.count())
                .select_from(first_mql)
                .where(first_mql.c.at >= start, first_mql.c.at < end)
            ).scalar_one()
            won = conn.execute(
                select(func.count(), func.sum(deals.c.amount)).where(
                    deals.c.status == "won",
                    deals.c.close_date >= start.date(),
                    deals.c.close_date < end.date(),
                )
            ).one()
    finally:
        ws.close()
    credits = result.sections["credits"]
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in credits.to_pylist():
        key = (row["conversion"], row["dimension"], row["model"])
        sums[key][0] += row["conversions"]
        sums[key][1] += row["value"]
    assert mqls > 0
    assert won[0] > 0
    for (kind, _dimension, _model), (conversions, value) in sums.items():
        if kind == "mql":
            assert conversions == pytest.approx(mqls)
        if kind == "won":  # won deals whose buyer had no touch in the lookback are dropped
            assert 0 < conversions <= won[0] + 1e-9
            assert 0 < value <= float(won[1]) + 1e-6
    models = {m for (_, _, m) in sums}
    assert {"first_touch", "linear", "markov", "shapley", "time_decay"} <= models
