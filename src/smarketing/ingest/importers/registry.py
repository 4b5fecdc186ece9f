"""The importers by name: `hubspot_spec("contacts")`, `salesforce_spec("leads")`, `csv_spec(p)`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from smarketing.errors import UsageError
from smarketing.ingest.importers import hubspot, mapping, salesforce
from smarketing.ingest.importers.spec import Binder, ImportSpec, RowParser, Target
from smarketing.ingest.importers.values import ParseOptions

HUBSPOT_OBJECTS: dict[str, tuple[Target, Binder]] = {
    "contacts": (Target.PEOPLE, hubspot.bind_contacts),
    "companies": (Target.ACCOUNTS, hubspot.bind_companies),
    "deals": (Target.DEALS, hubspot.bind_deals),
}
SALESFORCE_OBJECTS: dict[str, tuple[Target, Binder]] = {
    "leads": (Target.PEOPLE, salesforce.bind_leads),
    "contacts": (Target.PEOPLE, salesforce.bind_contacts),
    "accounts": (Target.ACCOUNTS, salesforce.bind_accounts),
    "opportunities": (Target.DEALS, salesforce.bind_opportunities),
    "campaigns": (Target.CAMPAIGNS, salesforce.bind_campaigns),
    "campaign-members": (Target.CAMPAIGN_RESPONSES, salesforce.bind_campaign_members),
}


def _spec(
    system: str, label: str, objects: dict[str, tuple[Target, Binder]], obj: str
) -> ImportSpec:
    if obj not in objects:
        raise UsageError(
            f"{label} has no importer for {obj!r}", hint=f"use one of: {', '.join(objects)}"
        )
    target, bind = objects[obj]
    return ImportSpec(
        kind=f"{system}:{obj}",
        target=target,
        source_label=label,
        actor=f"import:{system}",
        reason=f"imported from {label}",
        bind=bind,
    )


def hubspot_spec(obj: str) -> ImportSpec:
    return _spec("hubspot", "HubSpot", HUBSPOT_OBJECTS, obj)


def salesforce_spec(obj: str) -> ImportSpec:
    return _spec("salesforce", "Salesforce", SALESFORCE_OBJECTS, obj)


def csv_spec(mapping_path: Path) -> ImportSpec:
    """The importer a mapping file describes; its runs are keyed by the mapping's content too."""
    loaded = mapping.load_mapping(mapping_path)

    def bind(headers: Sequence[str], file: str, options: ParseOptions) -> RowParser:
        return mapping.bind_mapping(loaded, headers, file, options)

    return ImportSpec(
        kind=f"csv:{loaded.object}:{loaded.fingerprint}",
        target=Target(loaded.object),
        source_label="CSV",
        actor="import:csv",
        reason=f"imported from CSV ({mapping_path.name})",
        bind=bind,
    )
