"""Settings, built by a factory and passed down. Nothing here reads the environment at import.

Every field is documented in docs/settings.md (a test keeps that page complete); each can be set
as an environment variable named `SMARKETING_<FIELD>` in upper case.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PLAYBOOK_FILENAME = "smarketing.yaml"
DATABASE_FILENAME = "smarketing.db"
ANALYTICS_FILENAME = "analytics.duckdb"
DEMO_MARKER = ".smarketing-demo"


class Settings(BaseSettings):
    """Runtime configuration of one smarketing workspace."""

    model_config = SettingsConfigDict(env_prefix="SMARKETING_", extra="forbid", frozen=True)

    workspace: Path = Field(
        default=Path("."),
        description="Directory holding smarketing.yaml, the SQLite store and the analytics copy.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the operational store; empty means SQLite in the "
        "workspace. PostgreSQL: postgresql+psycopg://user:pass@host:5432/db",
    )
    max_event_bytes: int = Field(default=32 * 1024, description="Largest single tracking event.")
    max_batch_bytes: int = Field(default=500 * 1024, description="Largest /v1/batch request body.")
    max_batch_events: int = Field(default=2500, description="Most events in one /v1/batch.")
    max_queued_events: int = Field(
        default=100_000,
        ge=0,
        description="Most accepted tracking events waiting for the processor; beyond it "
        "/v1 answers 429 with Retry-After (clients send again later) until it catches up. "
        "0: no limit.",
    )
    api_rate_limit: float = Field(
        default=50.0,
        ge=0,
        description="Requests a second each REST API key may make on average (per server "
        "process); over it, 429 with Retry-After. 0: no limit.",
    )
    api_rate_burst: int = Field(
        default=200,
        ge=1,
        description="Requests a REST API key may make at once before SMARKETING_API_RATE_LIMIT "
        "applies.",
    )
    analytics_keep_open_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long `smarketing serve` keeps the analytics copy open after a report, "
        "for the next one (about 0.4 s saved at a million people); another process waits at "
        "most this long for the file. 0: close it after each report.",
    )
    max_page_size: int = Field(default=500, description="Largest `limit` of a list endpoint.")
    max_upload_bytes: int = Field(
        default=512 * 1024 * 1024, description="Largest file accepted by an upload endpoint."
    )
    demo: bool = Field(
        default=False, description="Show the demo-data banner (set by `smarketing demo`)."
    )

    @property
    def is_demo(self) -> bool:
        """Demo banner on: set explicitly, or the workspace was built by `smarketing demo`."""
        return self.demo or (self.workspace / DEMO_MARKER).exists()

    @property
    def playbook_path(self) -> Path:
        return self.workspace / PLAYBOOK_FILENAME

    @property
    def analytics_path(self) -> Path:
        return self.workspace / ANALYTICS_FILENAME

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.workspace / DATABASE_FILENAME).resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, then explicit overrides (CLI flags win)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
