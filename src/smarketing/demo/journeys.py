"""Simulate one account's buying group: visits, form fills, hand-offs, deals.

Plain Python over `random.Random` (scalar draws are far cheaper there than in numpy); rows come
out as dicts ready for a bulk insert. Everything is a function of the seed and `now`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from smarketing.demo.catalog import (
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    LOST_REASONS,
    REJECT_REASON_WEIGHTS,
    TITLES,
    TRAFFIC,
    Traffic,
)
from smarketing.domain.stages import Stage
from smarketing.domain.touches import SALES_CHANNEL, TouchKind, team_of

Row = dict[str, Any]
NON_RECYCLING = frozenset({"bad-fit", "duplicate", "student-or-competitor"})


@dataclass(frozen=True)
class Cast:
    """What the simulation draws from: ids and classified traffic, prepared once."""

    now: datetime
    channels: dict[str, tuple[str, str, str, str]]  # traffic key -> channel, version, src, med
    campaign_ids: dict[str, int]
    content: list[tuple[int, str, str]]  # id, path, kind
    reps: list[tuple[int, str]]  # user id, email
    playbook_version_id: int
    mean_touches: float


@dataclass
class Tables:
    accounts: list[Row] = field(default_factory=list)
    people: list[Row] = field(default_factory=list)
    identities: list[Row] = field(default_factory=list)
    touchpoints: list[Row] = field(default_factory=list)
    transitions: list[Row] = field(default_factory=list)
    handoffs: list[Row] = field(default_factory=list)
    sla_clocks: list[Row] = field(default_factory=list)
    deals: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[Row]]:
        return dict(vars(self).items())


@dataclass
class Ids:
    account: int
    person: int
    identity: int
    touch: int
    handoff: int
    deal: int
    visitor: int = 0


def _pick_traffic(rng: random.Random) -> Traffic:
    return rng.choices(TRAFFIC, weights=[t.weight for t in TRAFFIC])[0]


class AccountSimulator:
    def __init__(
        self, cast: Cast, rng: random.Random, ids: Ids, out: Tables, *, limit: int
    ) -> None:
        self.cast, self.rng, self.ids, self.out, self.limit = cast, rng, ids, out, limit
        self.by_kind: dict[str, list[tuple[int, str, str]]] = {}
        for item in cast.content:
            self.by_kind.setdefault(item[2], []).append(item)

    def account(self, name: str, domain: str) -> None:
        rng, now = self.rng, self.cast.now
        account_id = self.ids.account
        self.ids.account += 1
        owner = rng.choice(self.cast.reps) if rng.random() < 0.25 else None
        employees = int(rng.lognormvariate(5.0, 1.4)) + 5
        self.out.accounts.append(
            {
                "id": account_id,
                "name": name,
                "domain": domain,
                "industry": rng.choice(INDUSTRIES),
                "employees": employees,
                "owner_id": owner[0] if owner else None,
                "traits": {},
                "change_seq": 0,
                "created_at": now - timedelta(days=400),
                "updated_at": now,
            }
        )
        used: set[str] = set()
        for _ in range(rng.choice((1, 2, 2, 3, 4, 5, 6))):
            if self.ids.person > self.limit:
                break
            self.person(account_id, domain, owner, employees, used)

    def person(
        self,
        account_id: int,
        domain: str,
        owner: tuple[int, str] | None,
        employees: int,
        used: set[str],
    ) -> None:
        rng, now, out = self.rng, self.cast.now, self.out
        pid = self.ids.person
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        while local in used:
            local = f"{local}{rng.randint(2, 99)}"
        used.add(local)
        title = rng.choice(TITLES)
        fit = (title.split()[0] in ("VP", "Head", "Director", "CMO", "CRO")) + (employees >= 200)
        times = self.timeline()
        touches = self.touches(pid, account_id, times)
        identified_at = next((t["occurred_at"] for t in touches if t["kind"] != "page_view"), None)
        email = f"{local}@{domain}" if identified_at else None
        stage = None
        if identified_at:
            stage = self.lifecycle(pid, account_id, owner, fit, identified_at, touches)
        if not email:
            # An anonymous visitor: touches keep an anonymous id, nobody to attach them to.
            self.ids.visitor += 1
            for touch in touches:
                touch.update(
                    person_id=None, account_id=None, anonymous_id=f"visitor-{self.ids.visitor:08d}"
                )
            out.touchpoints.extend(touches)
            return
        self.ids.person += 1
        out.people.append(
            {
                "id": pid,
                "email": email,
                "first_name": first,
                "last_name": last,
                "title": title,
                "account_id": account_id,
                "stage": stage,
                "owner_id": None,
                "original_channel": touches[0]["channel"],
                "traits": {},
                "change_seq": 0,
                "created_at": touches[0]["occurred_at"],
                "updated_at": now,
            }
        )
        self.identity(pid, "email", email, identified_at or now)
        self.identity(pid, "anonymous_id", f"anon-{pid:08d}", touches[0]["occurred_at"])
        out.touchpoints.extend(touches)

    def identity(self, pid: int, kind: str, value: str, at: datetime) -> None:
        self.out.identities.append(
            {
                "id": self.ids.identity,
                "person_id": pid,
                "kind": kind,
                "value": value,
                "created_at": at,
            }
        )
        self.ids.identity += 1

    def timeline(self) -> list[datetime]:
        rng, now = self.rng, self.cast.now
        n = 1 + min(60, int(rng.expovariate(1 / max(self.cast.mean_touches - 1, 0.1))))
        span = rng.uniform(2, 330)
        start = now - timedelta(days=span + rng.uniform(0, 30))
        offsets = sorted(rng.uniform(0, span) for _ in range(n))
        return [start + timedelta(days=o) for o in offsets]

    def touches(self, pid: int, account_id: int, times: list[datetime]) -> list[Row]:
        rng = self.rng
        rows: list[Row] = []
        traffic = _pick_traffic(rng)
        for i, at in enumerate(times):
            if i:
                r = rng.random()
                traffic = TRAFFIC[5] if r < 0.35 else TRAFFIC[4] if r < 0.55 else _pick_traffic(rng)
            kind, name, item = self.activity(traffic)
            rows.append(self.touch(pid, account_id, at, kind, name, traffic, item))
        return rows

    def activity(self, traffic: Traffic) -> tuple[TouchKind, str | None, tuple[int, str, str]]:
        rng = self.rng
        r = rng.random()
        if traffic.key == "newsletter":
            return TouchKind.EMAIL_CLICK, "Email Clicked", rng.choice(self.by_kind["blog_post"])
        if traffic.key == "partner" and r < 0.5:
            return TouchKind.REFERRAL, "Referral Made", rng.choice(self.by_kind["page"])
        if r < 0.08:
            return (
                TouchKind.FORM_FILL,
                "Whitepaper Downloaded",
                rng.choice(self.by_kind["whitepaper"]),
            )
        if r < 0.11:
            return TouchKind.WEBINAR, "Webinar Attended", rng.choice(self.by_kind["webinar"])
        if r < 0.125:
            return TouchKind.FORM_FILL, "Demo Requested", self.by_kind["page"][-1]
        kinds = ("blog_post",) * 6 + ("case_study", "page", "press_release")
        return TouchKind.PAGE_VIEW, None, rng.choice(self.by_kind[rng.choice(kinds)])

    def touch(
        self,
        pid: int,
        account_id: int,
        at: datetime,
        kind: TouchKind,
        name: str | None,
        traffic: Traffic | None,
        item: tuple[int, str, str] | None,
    ) -> Row:
        if traffic is None:
            channel, version, source, medium = SALES_CHANNEL, "sales", None, None
        else:
            channel, version, source, medium = self.cast.channels[traffic.key]
        row = {
            "id": self.ids.touch,
            "person_id": pid,
            "anonymous_id": f"anon-{pid:08d}",
            "account_id": account_id,
            "event_id": None,
            "occurred_at": at,
            "kind": kind.value,
            "name": name,
            "channel": channel,
            "ruleset_version": version,
            "source": source,
            "medium": medium,
            "campaign": traffic.campaign if traffic else None,
            "campaign_id": self.cast.campaign_ids.get(traffic.campaign or "") if traffic else None,
            "content_id": item[0] if item else None,
            "team": team_of(kind).value,
            "url": f"https://www.smarketing-demo.example{item[1]}" if item else None,
            "referrer": traffic.referrer if traffic else None,
            "properties": None,
        }
        self.ids.touch += 1
        return row

    def move(
        self, pid: int, old: str | None, new: Stage, at: datetime, actor: str, reason: str
    ) -> str:
        self.out.transitions.append(
            {
                "person_id": pid,
                "from_stage": old,
                "to_stage": new.value,
                "at": at,
                "actor": actor,
                "reason": reason,
                "playbook_version_id": self.cast.playbook_version_id,
            }
        )
        return new.value

    def lifecycle(
        self,
        pid: int,
        account_id: int,
        owner: tuple[int, str] | None,
        fit: int,
        identified_at: datetime,
        touches: list[Row],
    ) -> str:
        rng, _now = self.rng, self.cast.now
        stage = self.move(pid, None, Stage.LEAD, identified_at, "tracking", "first form fill")
        later = [t for t in touches if t["occurred_at"] >= identified_at]
        demo = next((t for t in later if t["name"] == "Demo Requested"), None)
        engaged = len(later)
        mql_p = min(0.8, 0.04 + 0.012 * engaged + 0.1 * fit)
        if demo is None and rng.random() > mql_p:
            return stage
        if demo is not None:
            mql_at, reason, fast = demo["occurred_at"], "fast track: demo-request", True
        else:
            mql_at = later[min(len(later) - 1, rng.randint(1, 4))]["occurred_at"]
            reason, fast = f"score reached the MQL threshold ({60 + rng.randint(0, 30)})", False
        stage = self.move(pid, stage, Stage.MQL, mql_at, "scoring", reason)
        rep = owner or self.cast.reps[pid % len(self.cast.reps)]
        rule = "account-owner" if owner else "round-robin"
        return self.handoff(pid, account_id, rep, rule, fit, fast, mql_at, stage)

    def handoff(
        self,
        pid: int,
        account_id: int,
        rep: tuple[int, str],
        rule: str,
        fit: int,
        fast: bool,
        assigned_at: datetime,
        stage: str,
    ) -> str:
        rng, now = self.rng, self.cast.now
        hid = self.ids.handoff
        self.ids.handoff += 1
        touch_h = rng.lognormvariate(1.6 if not fast else -0.5, 1.1)
        touched = assigned_at + timedelta(hours=touch_h)
        decided = touched + timedelta(hours=rng.uniform(1, 60))
        row: Row = {
            "id": hid,
            "person_id": pid,
            "owner_id": rep[0],
            "status": "assigned",
            "rule_id": rule,
            "fast_track": fast,
            "assigned_at": assigned_at,
            "first_touched_at": None,
            "accepted_at": None,
            "rejected_at": None,
            "reject_reason": None,
            "note": None,
            "qualification": None,
            "created_at": assigned_at,
            "updated_at": now,
        }
        self.out.handoffs.append(row)
        due = assigned_at + (timedelta(minutes=15) if fast else timedelta(hours=24))
        self.out.sla_clocks.append(
            {
                "handoff_id": hid,
                "kind": "first_touch",
                "started_at": assigned_at,
                "due_at": due,
                "stopped_at": touched if touched <= now else None,
                "breached_at": due if (touched > due and due <= now) else None,
            }
        )
        if touched > now:
            return stage
        row["first_touched_at"] = touched
        self.out.touchpoints.append(
            self.touch(pid, account_id, touched, TouchKind.CALL, "Intro Call", None, None)
        )
        if decided > now:
            return stage
        if rng.random() < 0.45 + 0.1 * fit:
            row.update(status="accepted", accepted_at=decided)
            stage = self.move(pid, stage, Stage.SAL, decided, rep[1], "accepted by sales")
            return self.qualify(pid, account_id, rep, fit, decided, stage, row)
        reason = rng.choices(
            list(REJECT_REASON_WEIGHTS), weights=list(REJECT_REASON_WEIGHTS.values())
        )[0]
        row.update(status="rejected", rejected_at=decided, reject_reason=reason)
        target = Stage.DISQUALIFIED if reason in NON_RECYCLING else Stage.RECYCLED
        if target is Stage.RECYCLED:
            row["status"] = "recycled"
        return self.move(pid, stage, target, decided, rep[1], f"rejected: {reason}")

    def qualify(
        self,
        pid: int,
        account_id: int,
        rep: tuple[int, str],
        fit: int,
        accepted: datetime,
        stage: str,
        row: Row,
    ) -> str:
        rng, now = self.rng, self.cast.now
        meeting = accepted + timedelta(days=rng.uniform(1, 10))
        if meeting > now or rng.random() > 0.6 + 0.1 * fit:
            return stage
        self.out.touchpoints.append(
            self.touch(pid, account_id, meeting, TouchKind.MEETING, "Discovery Meeting", None, None)
        )
        row.update(
            status="qualified",
            qualification={
                "budget": "confirmed",
                "authority": "economic buyer",
                "need": "alignment",
                "timeline": "this quarter",
            },
        )
        stage = self.move(pid, stage, Stage.SQL, meeting, rep[1], "qualified: BANT recorded")
        opened = meeting + timedelta(days=rng.uniform(1, 7))
        if opened > now or rng.random() > 0.85:
            return stage
        stage = self.move(pid, stage, Stage.OPPORTUNITY, opened, rep[1], "deal opened")
        amount = Decimal(int(rng.lognormvariate(10.0, 0.6) / 100) * 100 + 1000)
        close = opened + timedelta(days=rng.uniform(14, 90))
        won = rng.random() < 0.28 + 0.08 * fit
        closed = close <= now
        self.out.touchpoints.append(
            self.touch(
                pid,
                account_id,
                opened + timedelta(days=2),
                TouchKind.MEETING,
                "Demo Meeting",
                None,
                None,
            )
        )
        self.out.deals.append(
            {
                "id": self.ids.deal,
                "name": f"Deal {self.ids.deal}",
                "person_id": pid,
                "account_id": account_id,
                "owner_id": rep[0],
                "stage": ("closedwon" if won else "closedlost")
                if closed
                else "presentationscheduled",
                "status": ("won" if won else "lost") if closed else "open",
                "type": "new",
                "amount": amount,
                "currency": "USD",
                "close_date": close.date(),
                "lost_reason": rng.choice(LOST_REASONS) if closed and not won else None,
                "change_seq": 0,
                "created_at": opened,
                "updated_at": now,
            }
        )
        self.ids.deal += 1
        if not closed or not won:
            return stage
        stage = self.move(pid, stage, Stage.CUSTOMER, close, rep[1], "deal won")
        if rng.random() < 0.12 and close + timedelta(days=60) <= now:
            stage = self.move(
                pid, stage, Stage.EVANGELIST, close + timedelta(days=60), "csm", "referred a peer"
            )
        return stage
