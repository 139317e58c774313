"""The operators' decision log: who decided what, when and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now


class OpsDecision(Base):
    __tablename__ = "ops_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject_type: Mapped[str] = mapped_column(String(20))  # organization | store
    subject_id: Mapped[int]
    decision: Mapped[str] = mapped_column(String(10))  # approve | reject | suspend
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (Index("ix_ops_decisions_subject", "subject_type", "subject_id"),)
