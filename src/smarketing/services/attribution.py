"""Use cases behind `smarketing report attribution --deal ID` and
`GET /api/deals/{id}/attribution`: who got what credit for one deal."""

from __future__ import annotations

from smarketing.analytics.engines.base import EngineName, execute
from smarketing.analytics.reports.attribution import settings_from_playbook
from smarketing.analytics.reports.deal_credit import DealCredit, deal_credit
from smarketing.analytics.reports.deal_journey import (
    deal_basis,
    deal_touches,
    population_touches,
)
from smarketing.analytics.tables import unbound
from smarketing.domain.stages import Role
from smarketing.services import deals
from smarketing.services.access import Actor
from smarketing.services.reports import EngineOptions, open_engine
from smarketing.services.workspace import Workspace

LOCAL_ACTOR = Actor(name="cli", role=Role.ADMIN)
"""The CLI runs with the workspace's files in hand: it sees every deal."""


def deal_attribution(
    ws: Workspace,
    deal_id: int,
    *,
    actor: Actor = LOCAL_ACTOR,
    period: str | None = None,
    engine: EngineName = "duckdb",
    options: EngineOptions | None = None,
) -> DealCredit:
    """Every touch of the deal's journey and its credit under every model.

    `period` chooses the population Markov and Shapley are fitted on (default: the quarter of
    the deal's close date, or of today for an open deal)."""
    deal = deals.get_deal(ws, actor, deal_id)
    options = options or EngineOptions()
    playbook = ws.playbook.playbook.attribution
    basis = deal_basis(deal, playbook, now=ws.clock.now(), period=period)
    tables = unbound()
    queries = {
        "touches": deal_touches(tables, basis),
        "population": population_touches(tables, basis),
    }
    with open_engine(ws, engine, options) as (eng, _synced):
        results = {key: execute(eng, expr, limits=options.limits) for key, expr in queries.items()}
    return deal_credit(
        basis, results["touches"], results["population"], settings_from_playbook(playbook)
    )
