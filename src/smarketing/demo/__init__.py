"""`smarketing demo`: a deterministic B2B company to explore and to benchmark on.

Same seed, same size and same day give the same company. The workspace is marked as demo data
(a banner on every surface) and re-running with the same parameters reuses it.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from smarketing.demo.catalog import (
    CAMPAIGNS,
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    TRAFFIC,
    content_catalog,
)
from smarketing.demo.journeys import AccountSimulator, Cast, Ids, Tables
from smarketing.domain import credentials
from smarketing.domain.channels import TouchSignals, classify
from smarketing.domain.model import User
from smarketing.domain.stages import Role, Team
from smarketing.errors import UsageError
from smarketing.playbook.loader import load_playbook
from smarketing.services.workspace import Workspace, init_workspace, open_workspace
from smarketing.settings import DEMO_MARKER, Settings
from smarketing.store import bulk, playbooks, users
from smarketing.store.database import workspace_engine

DEMO_PASSWORD = "demo"


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    name: str
    role: Role
    manager: str | None = None


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@demo.test", "Avery Admin", Role.ADMIN),
    DemoUser("marketing@demo.test", "Morgan Marketing", Role.MARKETING),
    DemoUser("sales@demo.test", "Sasha Sales", Role.SALES),
    DemoUser("alex.rep@demo.test", "Alex Rep", Role.SALES, manager="sales@demo.test"),
    DemoUser("jordan.rep@demo.test", "Jordan Rep", Role.SALES, manager="sales@demo.test"),
)
CHUNK_ACCOUNTS = 500


@dataclass(frozen=True, slots=True)
class DemoSummary:
    people: int
    accounts: int
    touchpoints: int
    deals: int
    api_key: str
    write_key: str
    reused: bool

    def describe(self) -> str:
        verb = "reused" if self.reused else "built"
        return (
            f"DEMO DATA: {verb} a demo company with {self.people:,} people in "
            f"{self.accounts:,} accounts, {self.touchpoints:,} touchpoints and {self.deals:,} deals"
        )


def demo_keys(seed: int) -> tuple[str, str]:
    """Demo credentials derived from the seed, so re-runs print the same ones (demo only)."""
    digest = hashlib.sha256(f"smarketing-demo-{seed}".encode()).hexdigest()
    return (
        f"{credentials.API_KEY_PREFIX}demo{digest[:28]}",
        f"{credentials.WRITE_KEY_PREFIX}demo{digest[28:52]}",
    )


def _fingerprint(people: int, seed: int, today: date) -> dict[str, object]:
    return {"people": people, "seed": seed, "day": today.isoformat(), "format": 1}


def _reset(settings: Settings, fingerprint: dict[str, object]) -> bool:
    """Clear an earlier demo so the new one starts empty; True when the existing one fits."""
    marker = settings.workspace / DEMO_MARKER
    if marker.exists():
        try:
            if json.loads(marker.read_text()) == fingerprint:
                return True
        except ValueError:
            pass
        marker.unlink()
        if settings.is_sqlite:
            for suffix in ("", "-wal", "-shm"):
                (settings.workspace / f"smarketing.db{suffix}").unlink(missing_ok=True)
        else:
            engine = workspace_engine(settings)
            try:
                with engine.begin() as conn:
                    bulk.truncate_all(conn)
            finally:
                engine.dispose()
        settings.analytics_path.unlink(missing_ok=True)
    return False


def build_demo(
    settings: Settings,
    *,
    people: int = 2000,
    seed: int = 7,
    progress: bool = True,
    today: date | None = None,
) -> DemoSummary:
    """Build (or reuse) the demo company in the workspace of `settings`."""
    today = today or datetime.now(UTC).date()
    fingerprint = _fingerprint(people, seed, today)
    api_key, write_key = demo_keys(seed)
    reuse = _reset(settings, fingerprint)
    init_workspace(settings, today=today, overwrite=not reuse)
    ws = open_workspace(settings)
    try:
        if reuse:
            with ws.db.read() as conn:
                counts = {
                    t: bulk.count(conn, t) for t in ("people", "accounts", "touchpoints", "deals")
                }
            return DemoSummary(**counts, api_key=api_key, write_key=write_key, reused=True)
        with ws.db.read() as conn:
            if bulk.count(conn, "people"):
                raise UsageError(
                    "the database already holds people; the demo only builds into an empty one",
                    hint="use a new --workspace or an empty SMARKETING_DATABASE_URL",
                )
        now = datetime.combine(today, time(9, 0), tzinfo=UTC)
        counts = _generate(
            ws, people=people, seed=seed, now=now, keys=(api_key, write_key), progress=progress
        )
    finally:
        ws.close()
    (settings.workspace / DEMO_MARKER).write_text(json.dumps(fingerprint))
    return DemoSummary(**counts, api_key=api_key, write_key=write_key, reused=False)


def _setup(ws: Workspace, now: datetime, keys: tuple[str, str]) -> Cast:
    loaded = load_playbook(ws.settings.playbook_path)
    password = credentials.hash_password(DEMO_PASSWORD)
    with ws.db.begin() as conn:
        made: dict[str, User] = {}
        for u in DEMO_USERS:
            made[u.email] = users.add_user(
                conn,
                email=u.email,
                name=u.name,
                role=u.role,
                password_hash=password,
                now=now - timedelta(days=400),
                manager_id=made[u.manager].id if u.manager else None,
            )
        version = playbooks.register_version(
            conn,
            content_hash=loaded.content_hash,
            text=loaded.text,
            now=now - timedelta(days=200),
            actor="marketing@demo.test",
        )
        for team, email in (
            (Team.MARKETING, "marketing@demo.test"),
            (Team.SALES, "sales@demo.test"),
        ):
            playbooks.add_signoff(
                conn,
                version_id=version.id,
                team=team,
                user_id=made[email].id,
                now=now - timedelta(days=199),
            )
        users.add_source(
            conn, name="website", write_key_hash=credentials.key_hash(keys[1]), now=now
        )
        users.add_api_key(
            conn,
            name="demo admin",
            role=Role.ADMIN,
            prefix=credentials.display_prefix(keys[0]),
            key_hash=credentials.key_hash(keys[0]),
            now=now,
        )
        traffic_campaign = {}
        for i, (name, traffic, cost, days) in enumerate(CAMPAIGNS, start=1):
            traffic_campaign[name] = i
            bulk.insert_rows(
                conn,
                "campaigns",
                [
                    {
                        "id": i,
                        "name": name,
                        "channel": traffic,
                        "kind": "demand",
                        "cost": Decimal(cost),
                        "currency": "USD",
                        "start_date": (now - timedelta(days=days)).date(),
                        "end_date": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
        content = []
        for i, (path, kind, title) in enumerate(content_catalog(), start=1):
            content.append((i, path, kind.value))
            bulk.insert_rows(
                conn,
                "content_items",
                [
                    {
                        "id": i,
                        "key": path,
                        "title": title,
                        "kind": kind.value,
                        "url": f"https://www.smarketing-demo.example{path}",
                        "is_stub": False,
                        "created_at": now - timedelta(days=400),
                        "updated_at": now,
                    }
                ],
            )
    overrides = loaded.playbook.channels.domain_overrides()
    channels = {}
    for t in TRAFFIC:
        assigned = classify(
            TouchSignals(
                source=t.source,
                medium=t.medium,
                campaign=t.campaign,
                referrer=t.referrer,
                click_ids=frozenset({"gclid"}) if t.gclid else frozenset(),
            ),
            overrides,
        )
        channels[t.key] = (
            assigned.channel,
            assigned.ruleset_version,
            assigned.source,
            assigned.medium,
        )
    reps = [(made[u.email].id, u.email) for u in DEMO_USERS if u.role is Role.SALES]
    return Cast(
        now=now,
        channels=channels,
        campaign_ids=traffic_campaign,
        content=content,
        reps=reps,
        playbook_version_id=version.id,
        mean_touches=20.0,
    )


def _company(rng: random.Random, n: int) -> tuple[str, str]:
    word, suffix = rng.choice(COMPANY_WORDS), rng.choice(COMPANY_SUFFIXES)
    return f"{word}{suffix} {n}", f"{word}{suffix}-{n}.example".lower()


def _generate(
    ws: Workspace, *, people: int, seed: int, now: datetime, keys: tuple[str, str], progress: bool
) -> dict[str, int]:
    cast = _setup(ws, now, keys)
    rng = random.Random(seed)
    ids = Ids(account=1, person=1, identity=1, touch=1, handoff=1, deal=1)
    totals = {"people": 0, "accounts": 0, "touchpoints": 0, "deals": 0}
    with Progress(
        TextColumn("demo"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task("people", total=people)
        while ids.person <= people:
            out = Tables()
            sim = AccountSimulator(cast, rng, ids, out, limit=people)
            for _ in range(CHUNK_ACCOUNTS):
                if ids.person > people:
                    break
                name, domain = _company(rng, ids.account)
                sim.account(name, domain)
            with ws.db.begin() as conn:
                for table, rows in out.as_dict().items():
                    bulk.insert_rows(conn, table, rows)
            for key, rows in (
                ("people", out.people),
                ("accounts", out.accounts),
                ("touchpoints", out.touchpoints),
                ("deals", out.deals),
            ):
                totals[key] += len(rows)
            bar.update(task, completed=min(ids.person - 1, people))
    with ws.db.begin() as conn:
        bulk.sync_sequences(conn)
    return totals
