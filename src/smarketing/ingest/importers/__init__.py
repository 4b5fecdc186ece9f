"""CSV importers: HubSpot and Salesforce exports, and any CSV through a YAML mapping.

Each importer is an `ImportSpec` (see `spec.py`): the columns it knows (by internal name and
by UI label, matched ignoring case, spaces and punctuation), the records it makes and the
actor its transitions are written with. `reader` streams a file of any common encoding and
delimiter; `errors_csv` writes the rejected rows. Everything here is pure parsing: the store
never sees a header, and this package never sees the store.
"""

from smarketing.ingest.importers.registry import (
    HUBSPOT_OBJECTS,
    SALESFORCE_OBJECTS,
    csv_spec,
    hubspot_spec,
    salesforce_spec,
)

__all__ = ["HUBSPOT_OBJECTS", "SALESFORCE_OBJECTS", "csv_spec", "hubspot_spec", "salesforce_spec"]
