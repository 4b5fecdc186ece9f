"""`fct_attribution_credits`: one row per (conversion, touchpoint, model), for the export.

Every conversion of every kind (mql, sql, opportunity, won deals), not only a period's, per
person or per account as the playbook says, with its touches in the playbook's lookback
window. Rule-based models split each conversion by their rule; Markov and Shapley are fitted
on all journeys of the kind (converting or not, non-converting ones looking back from the
latest touch) and split each conversion in proportion to the values of its channels, then
equally among each channel's touches (`attribution.path_credit`).

Columns: `conversion_id` (`won:deal:<id>`, `<kind>:<person|account>:<id>`),
`conversion_kind`, `journey_type` (person or account), `journey_id`, `converted_at`, `deal_id`
(won only), `touchpoint_id`, `occurred_at`, `channel`, `campaign_id`, `content_id`, `team`,
`model`, `credit` (the touch's share: sums to 1 per conversion and model) and `revenue_credit`
(credit x the deal amount: sums to the amount; 0 for stage conversions). Conversions without
any touch in their window have no rows.

Memory: one conversion kind's touches at a time, written one model at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.attribution.journeys import (
    CONVERSION_KINDS,
    ConversionKind,
    JourneyQuery,
    journey_touches,
)
from smarketing.analytics.attribution.path_credit import (
    DATA_DRIVEN,
    population_values,
    touch_credit,
)
from smarketing.analytics.attribution.touch_paths import touch_paths
from smarketing.analytics.export import ExportContext, ExportStream, register_export
from smarketing.analytics.reports.attribution import MODELS, settings_from_playbook

TABLE_NAME = "fct_attribution_credits"
SCHEMA = pa.schema(
    [
        ("conversion_id", pa.string()),
        ("conversion_kind", pa.string()),
        ("journey_type", pa.string()),
        ("journey_id", pa.int64()),
        ("converted_at", pa.timestamp("us")),
        ("deal_id", pa.int64()),
        ("touchpoint_id", pa.int64()),
        ("occurred_at", pa.timestamp("us")),
        ("channel", pa.string()),
        ("campaign_id", pa.int64()),
        ("content_id", pa.int64()),
        ("team", pa.string()),
        ("model", pa.string()),
        ("credit", pa.float64()),
        ("revenue_credit", pa.float64()),
    ]
)


def fct_attribution_credits(ctx: ExportContext) -> ExportStream:
    return ExportStream(schema=SCHEMA, batches=_batches(ctx))


def _batches(ctx: ExportContext) -> Iterator[pa.RecordBatch]:
    for kind in CONVERSION_KINDS:
        yield from _kind_batches(ctx, kind)


def _kind_batches(ctx: ExportContext, kind: ConversionKind) -> Iterator[pa.RecordBatch]:
    pb = ctx.attribution
    settings = settings_from_playbook(pb)
    query = JourneyQuery(kind=kind, per=pb.per, dimension="channel", lookback_days=pb.lookback_days)
    paths = touch_paths(ctx.fetch(journey_touches(ctx.tables, query)), won=kind == "won")
    converting, rows_of_touch = paths.converting()
    if converting.touches.size == 0:
        return
    fitted = population_values(paths.paths, DATA_DRIVEN, settings)
    shares = touch_credit(converting, MODELS, settings, fitted)
    rows = paths.rows.take(pa.array(rows_of_touch))
    journey = rows["journey"].to_numpy(zero_copy_only=False).astype(np.int64)
    conversion = rows["conversion"].to_numpy(zero_copy_only=False).astype(np.int64)
    if kind == "won":
        conversion_id = [f"won:deal:{c}" for c in conversion.tolist()]
        deal_id = pa.array(conversion, pa.int64())
    else:
        conversion_id = [f"{kind}:{pb.per}:{j}" for j in journey.tolist()]
        deal_id = pa.nulls(rows.num_rows, pa.int64())
    value = rows["value"].to_numpy(zero_copy_only=False).astype(np.float64)
    n = rows.num_rows
    fixed = {
        "conversion_id": pa.array(conversion_id, pa.string()),
        "conversion_kind": pa.array([kind] * n, pa.string()),
        "journey_type": pa.array([pb.per] * n, pa.string()),
        "journey_id": pa.array(journey, pa.int64()),
        "converted_at": pc.cast(rows["converted_at"], pa.timestamp("us")),
        "deal_id": deal_id,
        "touchpoint_id": rows["touch_id"],
        "occurred_at": pc.cast(rows["occurred_at"], pa.timestamp("us")),
        "channel": rows["channel"],
        "campaign_id": rows["campaign_id"],
        "content_id": rows["content_id"],
        "team": rows["team"],
    }
    for model in MODELS:
        columns = {
            **fixed,
            "model": pa.array([model] * n, pa.string()),
            "credit": pa.array(shares[model], pa.float64()),
            "revenue_credit": pa.array(shares[model] * value, pa.float64()),
        }
        table = pa.table({name: columns[name] for name in SCHEMA.names}).cast(SCHEMA)
        yield from table.to_batches()


register_export(TABLE_NAME, fct_attribution_credits)
