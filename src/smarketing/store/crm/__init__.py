"""The importers' repository: bulk upserts of CRM records and the import-run checkpoints.

The only SQL of the CSV importers. Each upsert takes a chunk of records (any objects with the
attributes of the Protocols declared here, such as the records of `ingest.importers`) and
returns one `RowOutcome` per record, in order; the caller owns the transaction, so a chunk
and its checkpoint (`runs.save_progress`) commit together or not at all.
"""

from smarketing.store.crm.accounts import upsert_accounts
from smarketing.store.crm.campaigns import insert_campaign_responses, upsert_campaigns
from smarketing.store.crm.common import Outcome, RowOutcome, WriteContext, refresh_statistics
from smarketing.store.crm.deals import upsert_deals
from smarketing.store.crm.pending import PendingPeople
from smarketing.store.crm.people import (
    PeopleRows,
    StageMove,
    StagePlanner,
    prepare_people,
    upsert_people,
)
from smarketing.store.crm.runs import (
    Counts,
    ImportRun,
    ImportStatus,
    finish_run,
    get_run,
    save_progress,
    start_run,
)

__all__ = [
    "Counts",
    "ImportRun",
    "ImportStatus",
    "Outcome",
    "PendingPeople",
    "PeopleRows",
    "RowOutcome",
    "StageMove",
    "StagePlanner",
    "WriteContext",
    "finish_run",
    "get_run",
    "insert_campaign_responses",
    "prepare_people",
    "refresh_statistics",
    "save_progress",
    "start_run",
    "upsert_accounts",
    "upsert_campaigns",
    "upsert_deals",
    "upsert_people",
]
