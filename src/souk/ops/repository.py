"""All SQL for the operators' decision log. No rules, no commit.

The log has two sources: ``OpsDecision`` rows (organisation and store decisions) and the operators' dispute
rulings, which are ``DisputeEvent`` rows (kind "ruled" or "released", actor_role "operator"). Both pages are read
newest first by the same key, ``(created_at, source, id)``, so the service can merge them and page on with one
cursor: a ruling sorts before a decision made at the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import Dispute, DisputeEvent, OpsDecision, User

DECISION_SOURCE = 0
RULING_SOURCE = 1
RULING_KINDS = ("ruled", "released")


@dataclass(frozen=True, slots=True)
class LogKey:
    """Where a row sits in the merged log (newest first): time, then source, then id."""

    created_at: datetime
    source: int
    id: int


@dataclass(frozen=True, slots=True)
class RulingRow:
    event: DisputeEvent
    operator_name: str
    currency: str


def _before(key: LogKey | None, source: int, created_at: Any, id_column: Any) -> ColumnElement[bool]:
    """Rows of ``source`` that come after ``key`` in the newest-first order."""
    if key is None:
        return true()
    if source < key.source:
        same_instant: ColumnElement[bool] = true()
    elif source == key.source:
        same_instant = id_column < key.id
    else:
        same_instant = false()
    return or_(created_at < key.created_at, and_(created_at == key.created_at, same_instant))


class DecisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_subject(self, subject_type: str, subject_id: int) -> list[tuple[OpsDecision, str]]:
        rows = await self.session.execute(
            select(OpsDecision, User.display_name)
            .join(User, User.id == OpsDecision.operator_id)
            .where(OpsDecision.subject_type == subject_type, OpsDecision.subject_id == subject_id)
            .order_by(OpsDecision.id.desc())
        )
        return [(decision, name) for decision, name in rows]

    async def log_page(
        self, *, subject_type: str | None, subject_id: int | None, after: LogKey | None, limit: int
    ) -> list[tuple[OpsDecision, str]]:
        """Organisation and store decisions, newest first by the log key, after ``after``, at most ``limit``."""
        stmt = (
            select(OpsDecision, User.display_name)
            .join(User, User.id == OpsDecision.operator_id)
            .where(_before(after, DECISION_SOURCE, OpsDecision.created_at, OpsDecision.id))
        )
        if subject_type is not None:
            stmt = stmt.where(OpsDecision.subject_type == subject_type)
        if subject_id is not None:
            stmt = stmt.where(OpsDecision.subject_id == subject_id)
        stmt = stmt.order_by(OpsDecision.created_at.desc(), OpsDecision.id.desc()).limit(limit)
        return [(decision, name) for decision, name in await self.session.execute(stmt)]

    async def rulings_page(
        self, *, dispute_id: int | None, after: LogKey | None, limit: int
    ) -> list[RulingRow]:
        """Operators' dispute rulings (refunds and releases), newest first by the log key, after ``after``."""
        stmt = (
            select(DisputeEvent, User.display_name, Dispute.currency)
            .join(Dispute, Dispute.id == DisputeEvent.dispute_id)
            .outerjoin(User, User.id == DisputeEvent.actor_id)
            .where(
                DisputeEvent.kind.in_(RULING_KINDS),
                DisputeEvent.actor_role == "operator",
                _before(after, RULING_SOURCE, DisputeEvent.created_at, DisputeEvent.id),
            )
        )
        if dispute_id is not None:
            stmt = stmt.where(DisputeEvent.dispute_id == dispute_id)
        stmt = stmt.order_by(DisputeEvent.created_at.desc(), DisputeEvent.id.desc()).limit(limit)
        return [
            RulingRow(event, name or "", currency)
            for event, name, currency in await self.session.execute(stmt)
        ]
