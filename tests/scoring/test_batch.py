"""The numpy path computes exactly the contract of `domain.scoring` (the reference)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.domain.scoring_batch import epoch_seconds, local_days
from tests.scoring.factories import batch_scores, compiled, score
from tests.scoring.strategies import ZONES, records, sections, touches


@settings(max_examples=80, deadline=None)
@given(sections(), st.lists(st.tuples(records(), touches()), min_size=1, max_size=4))
def test_batch_equals_the_reference(playbook_sections, people) -> None:
    c = compiled(**playbook_sections)
    batch = batch_scores(c, people)
    for (who, person_touches), (fit, engagement, lines) in zip(people, batch, strict=True):
        expected = score(c.rules, person_touches, who=who)
        assert fit == expected.fit
        assert engagement == pytest.approx(expected.engagement, abs=1e-9)
        reference = {
            x.rule_id: (
                x.points,
                x.raw_points,
                x.touches,
                epoch_seconds(x.first_at),
                epoch_seconds(x.last_at),
            )
            for x in expected.contributions
            if x.part == "engagement"
        }
        assert lines.keys() == reference.keys()
        for rule_id, (points, *rest) in lines.items():
            assert points == pytest.approx(reference[rule_id][0], abs=1e-9)
            assert tuple(rest) == reference[rule_id][1:]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.lists(st.integers(-(10**9), 4 * 10**9), min_size=1, max_size=50),
)
def test_local_days_match_the_zone_database(zone: str, epochs: list[int]) -> None:
    from zoneinfo import ZoneInfo

    got = local_days(np.array(epochs, dtype=np.int64), zone)
    epoch0 = datetime(1970, 1, 1, tzinfo=UTC)
    for e, day in zip(epochs, got.tolist(), strict=True):
        local = (epoch0 + timedelta(seconds=e)).astimezone(ZoneInfo(zone)).date()
        assert day == (local - epoch0.date()).days


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_local_days_around_daylight_saving_changes(zone: str) -> None:
    from zoneinfo import ZoneInfo

    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    epochs = np.arange(start, start + 366 * 86_400, 600, dtype=np.int64)  # every 10 minutes
    got = local_days(epochs, zone)
    epoch0 = datetime(1970, 1, 1, tzinfo=UTC)
    expected = [
        (
            (epoch0 + timedelta(seconds=int(e))).astimezone(ZoneInfo(zone)).date() - epoch0.date()
        ).days
        for e in epochs
    ]
    assert got.tolist() == expected
