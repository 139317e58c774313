"""All SQL for the operators' decision log. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import OpsDecision, User
from souk.party.repository import newest_first


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

    async def page(
        self, *, subject_type: str | None, subject_id: int | None, after: int | None, limit: int
    ) -> Sequence[tuple[OpsDecision, str]]:
        stmt = select(OpsDecision, User.display_name).join(User, User.id == OpsDecision.operator_id)
        if subject_type is not None:
            stmt = stmt.where(OpsDecision.subject_type == subject_type)
        if subject_id is not None:
            stmt = stmt.where(OpsDecision.subject_id == subject_id)
        rows = await self.session.execute(newest_first(stmt, OpsDecision.id, after, limit))
        return [(decision, name) for decision, name in rows]
