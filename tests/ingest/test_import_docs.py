"""docs/imports.md cannot drift from the importers' vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from smarketing.ingest.importers import hubspot_vocab, salesforce_vocab
from smarketing.ingest.importers.headers import key

DOC = (Path(__file__).resolve().parents[2] / "docs" / "imports.md").read_text(encoding="utf-8")

ENTRIES = [
    *((e.label, e.value) for e in hubspot_vocab.LIFECYCLE_STAGES),
    *((e.label, e.value) for e in hubspot_vocab.LEAD_STATUSES),
    *((e.label, e.value) for e in hubspot_vocab.ORIGINAL_SOURCES),
    *((e.label, e.value) for e in hubspot_vocab.DEAL_STAGES),
]


@pytest.mark.parametrize(("label", "value"), ENTRIES)
def test_every_hubspot_value_is_documented_with_its_label(label: str, value: str) -> None:
    assert label in DOC
    assert f"`{value}`" in DOC


@pytest.mark.parametrize("channel", sorted({e.channel for e in hubspot_vocab.ORIGINAL_SOURCES}))
def test_every_source_channel_is_documented(channel: str) -> None:
    assert f"| {channel} |" in DOC


def test_every_salesforce_campaign_type_and_lead_status_is_documented() -> None:
    documented = {
        key(part)
        for line in DOC.splitlines()
        for cell in line.split("|")
        for part in cell.split(",")
    }
    missing = [
        k
        for k in [*salesforce_vocab.CAMPAIGN_TYPE_CHANNELS, *salesforce_vocab.LEAD_STATUS_STAGES]
        if k not in documented
    ]
    assert missing == []
