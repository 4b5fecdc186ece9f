"""Table definitions. Private to `smarketing.store`: other layers use the repositories.

Conventions: integer surrogate keys; `created_at`/`updated_at` in UTC; `updated_at` plus a
monotonic `change_seq` on mutable tables so the analytics copy can sync incrementally;
touchpoints are append-only.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from smarketing.store.types import Money, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _pk() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    ]


users = Table(
    "users",
    metadata,
    _pk(),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("manager_id", Id, ForeignKey("users.id")),
    *_timestamps(),
)

api_keys = Table(
    "api_keys",
    metadata,
    _pk(),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("users.id")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
)

sources = Table(
    "sources",
    metadata,
    _pk(),
    Column("name", String(200), nullable=False, unique=True),
    Column("write_key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    _pk(),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(200)),
    Column("detail", JSON),
)

playbook_versions = Table(
    "playbook_versions",
    metadata,
    _pk(),
    Column("number", Integer, nullable=False, unique=True),
    Column("content_hash", String(64), nullable=False, unique=True),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(320), nullable=False),
)

playbook_signoffs = Table(
    "playbook_signoffs",
    metadata,
    _pk(),
    Column("playbook_version_id", Id, ForeignKey("playbook_versions.id"), nullable=False),
    Column("team", String(20), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("signed_at", UTCDateTime(), nullable=False),
    UniqueConstraint("playbook_version_id", "team"),
)

accounts = Table(
    "accounts",
    metadata,
    _pk(),
    Column("name", String(300), nullable=False),
    Column("domain", String(255), unique=True),
    Column("industry", String(200)),
    Column("employees", Integer),
    Column("annual_revenue", Money()),
    Column("owner_id", Id, ForeignKey("users.id")),
    Column("group_id", String(255), unique=True),
    Column("hubspot_id", String(64), unique=True),
    Column("salesforce_id", String(18), unique=True),
    Column("traits", JSON),
    Column("change_seq", BigInteger, nullable=False, default=0),
    *_timestamps(),
    Index("ix_accounts_updated_at", "updated_at"),  # the analytics sync reads by it
)

_SET_ONLY = [(c, text(f"{c} IS NOT NULL")) for c in ("account_id", "owner_id")]

people = Table(
    "people",
    metadata,
    _pk(),
    Column("email", String(320), unique=True),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("title", String(300)),
    Column("phone", String(50)),
    Column("country", String(100)),
    Column("account_id", Id, ForeignKey("accounts.id")),
    Column("stage", String(30)),
    Column("owner_id", Id, ForeignKey("users.id")),
    Column("merged_into_id", Id, ForeignKey("people.id")),
    Column("original_channel", String(100)),
    Column("referred_by_id", Id, ForeignKey("people.id")),
    Column("churned_at", UTCDateTime()),
    Column("churn_reason", String(300)),
    Column("traits", JSON),
    Column("change_seq", BigInteger, nullable=False, default=0),
    *_timestamps(),
    Index("ix_people_stage", "stage"),
    Index("ix_people_updated_at", "updated_at"),
    # Partial: most people (all of a fresh import) have no account or owner; lookups are by
    # a given id, which implies NOT NULL on both databases.
    *(
        Index(f"ix_people_{column}", column, postgresql_where=where, sqlite_where=where)
        for column, where in _SET_ONLY
    ),
)

identities = Table(
    "identities",
    metadata,
    _pk(),
    Column("person_id", Id, ForeignKey("people.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("value", String(320), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("kind", "value"),
)

campaigns = Table(
    "campaigns",
    metadata,
    _pk(),
    Column("name", String(300), nullable=False, unique=True),
    Column("channel", String(100)),
    Column("kind", String(100)),
    Column("cost", Money()),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("salesforce_id", String(18), unique=True),
    *_timestamps(),
)

content_items = Table(
    "content_items",
    metadata,
    _pk(),
    Column("key", String(500), nullable=False, unique=True),
    Column("title", String(500)),
    Column("kind", String(30), nullable=False),
    Column("url", String(2000)),
    Column("is_stub", Boolean, nullable=False, default=False),
    *_timestamps(),
)

events = Table(
    "events",
    metadata,
    _pk(),
    Column("source_id", Id, ForeignKey("sources.id"), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("event", String(300)),
    Column("user_id", String(320)),
    Column("anonymous_id", String(320)),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("original_timestamp", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("payload", JSON, nullable=False),
    UniqueConstraint("source_id", "message_id"),
)

# The processor's queue: the ids of stored events whose identity, touchpoints and scores are
# not resolved yet. Written with the events, deleted in the transaction that processes them.
# A table of its own because marking the wide `events` row instead wrote a new version of it
# (payload included) and of its index entries per event on PostgreSQL. No foreign key: its
# check would lock (write to) the event row the queue exists to leave alone; events are never
# deleted, and the queue only ever holds ids just returned by their INSERT.
event_queue = Table(
    "event_queue",
    metadata,
    Column("event_id", Id, primary_key=True, autoincrement=False),
)

failed_events = Table(
    "failed_events",
    metadata,
    _pk(),
    Column("source_id", Id, ForeignKey("sources.id")),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("replayed_at", UTCDateTime()),
)

touchpoints = Table(
    "touchpoints",
    metadata,
    _pk(),
    Column("person_id", Id, ForeignKey("people.id"), index=True),
    Column("anonymous_id", String(320), index=True),
    Column("account_id", Id, ForeignKey("accounts.id"), index=True),
    Column("event_id", Id, ForeignKey("events.id")),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("name", String(300)),
    Column("channel", String(100), nullable=False),
    Column("ruleset_version", String(60), nullable=False),
    Column("source", String(200)),
    Column("medium", String(200)),
    Column("campaign", String(300)),
    Column("campaign_id", Id, ForeignKey("campaigns.id")),
    Column("content_id", Id, ForeignKey("content_items.id")),
    Column("team", String(20), nullable=False),
    Column("url", String(2000)),
    Column("referrer", String(2000)),
    Column("properties", JSON),
    Index("ix_touchpoints_occurred_at", "occurred_at"),
)

transitions = Table(
    "transitions",
    metadata,
    _pk(),
    Column("person_id", Id, ForeignKey("people.id"), nullable=False, index=True),
    Column("from_stage", String(30)),
    Column("to_stage", String(30), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("playbook_version_id", Id, ForeignKey("playbook_versions.id")),
)

scores = Table(
    "scores",
    metadata,
    Column("person_id", Id, ForeignKey("people.id"), primary_key=True),
    Column("fit", Float, nullable=False),
    Column("engagement", Float, nullable=False),
    Column("total", Float, nullable=False),
    Column("computed_at", UTCDateTime(), nullable=False),
    Column("playbook_version_id", Id, ForeignKey("playbook_versions.id")),
    Column("contributions", JSON),
)

handoffs = Table(
    "handoffs",
    metadata,
    _pk(),
    Column("person_id", Id, ForeignKey("people.id"), nullable=False, index=True),
    Column("owner_id", Id, ForeignKey("users.id"), index=True),
    Column("status", String(20), nullable=False),
    Column("rule_id", String(100)),
    Column("fast_track", Boolean, nullable=False, default=False),
    Column("assigned_at", UTCDateTime(), nullable=False),
    Column("first_touched_at", UTCDateTime()),
    Column("accepted_at", UTCDateTime()),
    Column("rejected_at", UTCDateTime()),
    Column("reject_reason", String(100)),
    Column("note", Text),
    Column("qualification", JSON),
    *_timestamps(),
    Index("ix_handoffs_updated_at", "updated_at"),  # the analytics sync reads by it
)

sla_clocks = Table(
    "sla_clocks",
    metadata,
    _pk(),
    Column("handoff_id", Id, ForeignKey("handoffs.id"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("stopped_at", UTCDateTime()),
    Column("breached_at", UTCDateTime()),
    Column("escalated_to_id", Id, ForeignKey("users.id")),
    UniqueConstraint("handoff_id", "kind"),
    Index("ix_sla_clocks_open_due", "stopped_at", "due_at"),
)

deals = Table(
    "deals",
    metadata,
    _pk(),
    Column("name", String(300), nullable=False),
    Column("person_id", Id, ForeignKey("people.id"), index=True),
    Column("account_id", Id, ForeignKey("accounts.id"), index=True),
    Column("owner_id", Id, ForeignKey("users.id")),
    Column("stage", String(100), nullable=False),
    Column("status", String(10), nullable=False),
    Column("type", String(20), nullable=False, default="new"),
    Column("amount", Money()),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("close_date", Date),
    Column("lost_reason", String(300)),
    Column("hubspot_id", String(64), unique=True),
    Column("salesforce_id", String(18), unique=True),
    Column("change_seq", BigInteger, nullable=False, default=0),
    *_timestamps(),
    Index("ix_deals_updated_at", "updated_at"),  # the analytics sync reads by it
)

imports = Table(
    "imports",
    metadata,
    _pk(),
    Column("kind", String(60), nullable=False),
    Column("file_name", String(1000), nullable=False),
    Column("file_hash", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_imported", Integer, nullable=False, default=0),
    Column("rows_unchanged", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("checkpoint_row", Integer, nullable=False, default=0),
    Column("errors_file", String(1000)),
    *_timestamps(),
    UniqueConstraint("kind", "file_hash"),
)

person_merges = Table(
    "person_merges",
    metadata,
    _pk(),
    Column("survivor_id", Id, ForeignKey("people.id"), nullable=False, index=True),
    Column("merged_id", Id, ForeignKey("people.id"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("moved", JSON, nullable=False),
    Column("undone_at", UTCDateTime()),
    Column("undone_by", String(320)),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    _pk(),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("description", String(500)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    _pk(),
    Column("event_type", String(100), nullable=False, index=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("dispatched_at", UTCDateTime()),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _pk(),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False),
    Column("subscription_id", Id, ForeignKey("webhook_subscriptions.id"), nullable=False),
    Column("message_id", String(100), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("delivered_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("outbox_id", "subscription_id"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    _pk(),
    Column("delivery_id", Id, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    UniqueConstraint("delivery_id", "attempt"),
)
