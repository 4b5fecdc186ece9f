"""Salesforce's default picklists as data, and what they mean here (documented in
docs/imports.md). Lookups go through `headers.key`: case, spaces and dashes do not matter."""

from __future__ import annotations

from smarketing.domain.channels import DefaultChannel
from smarketing.domain.model import DealStatus, DealType
from smarketing.domain.stages import Stage
from smarketing.ingest.importers.headers import key
from smarketing.ingest.importers.hubspot_vocab import OFFLINE_SOURCES, OTHER_CAMPAIGNS

LEAD_STATUS_STAGES: dict[str, Stage] = {
    key("Open - Not Contacted"): Stage.LEAD,
    key("Working - Contacted"): Stage.SAL,
    key("Closed - Converted"): Stage.SQL,
    key("Closed - Not Converted"): Stage.DISQUALIFIED,
}
"""Lead Status -> stage. Any other (custom) status: `lead`; a converted lead: `sql`, or
`opportunity` when the conversion made an opportunity."""

CLOSED_STAGE_STATUS: dict[str, DealStatus] = {
    key("Closed Won"): DealStatus.WON,
    key("Closed Lost"): DealStatus.LOST,
}
"""StageName -> status when the export has no IsClosed/IsWon; any other stage is open."""

OPPORTUNITY_TYPES: dict[str, DealType] = {
    key("New Customer"): DealType.NEW,
    key("New Business"): DealType.NEW,
    key("Existing Customer - Upgrade"): DealType.EXPANSION,
    key("Existing Business"): DealType.EXPANSION,
    key("Upsell"): DealType.EXPANSION,
    key("Existing Customer - Replacement"): DealType.RENEWAL,
    key("Existing Customer - Downgrade"): DealType.RENEWAL,
    key("Renewal"): DealType.RENEWAL,
}

CAMPAIGN_TYPE_CHANNELS: dict[str, str] = {
    key("Advertisement"): DefaultChannel.PAID_OTHER,
    key("Banner Ads"): DefaultChannel.DISPLAY,
    key("Email"): DefaultChannel.EMAIL,
    key("Partners"): DefaultChannel.REFERRAL,
    key("Referral Program"): DefaultChannel.REFERRAL,
    key("Conference"): OFFLINE_SOURCES,
    key("Seminar / Conference"): OFFLINE_SOURCES,
    key("Trade Show"): OFFLINE_SOURCES,
    key("Direct Mail"): OFFLINE_SOURCES,
    key("Telemarketing"): OFFLINE_SOURCES,
    key("Public Relations"): OTHER_CAMPAIGNS,
    key("Webinar"): OTHER_CAMPAIGNS,
    key("Other"): OTHER_CAMPAIGNS,
}
"""Campaign Type -> the channel its responses count for; unknown types: Other Campaigns."""


def lead_stage(status: str | None) -> Stage:
    return LEAD_STATUS_STAGES.get(key(status), Stage.LEAD) if status else Stage.LEAD


def campaign_channel(campaign_type: str | None) -> str:
    if not campaign_type:
        return OTHER_CAMPAIGNS
    return str(CAMPAIGN_TYPE_CHANNELS.get(key(campaign_type), OTHER_CAMPAIGNS))


def opportunity_type(text: str | None) -> DealType | None:
    return OPPORTUNITY_TYPES.get(key(text)) if text else None
