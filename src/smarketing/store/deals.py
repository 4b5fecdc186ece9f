"""Deals: opened by sales, won or lost, with amounts as DECIMAL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, select, update

from smarketing.domain.model import Deal, DealStatus, DealType
from smarketing.store.tables import deals


def _deal(row: Row[Any]) -> Deal:
    return Deal(
        id=row.id,
        name=row.name,
        person_id=row.person_id,
        account_id=row.account_id,
        status=DealStatus(row.status),
        amount=row.amount,
        currency=row.currency,
        type=DealType(row.type),
        close_date=row.close_date,
        stage=row.stage,
        owner_id=row.owner_id,
        lost_reason=row.lost_reason,
        created_at=row.created_at,
    )


def create(
    conn: Connection,
    *,
    name: str,
    person_id: int,
    account_id: int | None,
    owner_id: int | None,
    amount: Decimal | None,
    currency: str,
    close_date: date | None,
    type_: DealType,
    stage: str,
    now: datetime,
) -> Deal:
    new = conn.execute(
        deals.insert().values(
            name=name,
            person_id=person_id,
            account_id=account_id,
            owner_id=owner_id,
            stage=stage,
            status=DealStatus.OPEN.value,
            type=type_.value,
            amount=amount,
            currency=currency,
            close_date=close_date,
            change_seq=0,
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key
    assert new is not None
    found = get(conn, int(new[0]))
    assert found is not None
    return found


def get(conn: Connection, deal_id: int) -> Deal | None:
    row = conn.execute(select(deals).where(deals.c.id == deal_id)).first()
    return _deal(row) if row else None


def update_deal(conn: Connection, deal_id: int, values: dict[str, Any], now: datetime) -> Deal:
    conn.execute(
        update(deals)
        .where(deals.c.id == deal_id)
        .values(**values, updated_at=now, change_seq=deals.c.change_seq + 1)
    )
    found = get(conn, deal_id)
    assert found is not None
    return found
