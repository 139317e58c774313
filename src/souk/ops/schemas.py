"""The ops console: queues, review pages and decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel

from souk.kit.schemas import ReadSchema, Schema, Trimmed
from souk.party.schemas import DocumentRead, MemberRead, OrganizationRead
from souk.store.schemas import StoreRead

Reason = Annotated[str, Trimmed(2000, min_length=1)]


class OrganizationDecision(Schema):
    decision: Literal["approve", "reject"]
    reason: Reason


class StoreDecision(Schema):
    decision: Literal["approve", "reject", "suspend"]
    reason: Reason


class OpsDecisionRead(ReadSchema):
    """One line of the decision log: an organisation or store decision, or a dispute ruling (subject_type
    "dispute", decision "rule", with its outcome and the refunded amount)."""

    # the OpsDecision's id, or for a ruling the id of the dispute event that records it
    id: int
    operator_id: int
    operator_name: str
    subject_type: Literal["organization", "store", "dispute"]
    subject_id: int
    decision: Literal["approve", "reject", "suspend", "rule"]
    reason: str
    created_at: datetime
    # the subject's status right after the decision (only on the response to a decision)
    subject_status: str | None = None
    # rulings only: refund_full | refund_partial | released, and the refund in minor units (0 when released)
    outcome: Literal["refund_full", "refund_partial", "released"] | None = None
    amount: int | None = None
    currency: str | None = None


class QueueCounts(BaseModel):
    organizations: int
    brand_authorizations: int
    stores: int
    total: int


class UserBrief(ReadSchema):
    id: int
    display_name: str
    email: str


class OrganizationReview(BaseModel):
    organization: OrganizationRead
    documents: list[DocumentRead]
    members: list[MemberRead]
    stores: list[StoreRead]
    decisions: list[OpsDecisionRead]


class StoreReview(BaseModel):
    store: StoreRead
    organization: OrganizationRead | None
    owner: UserBrief | None
    brand_documents: list[DocumentRead]
    decisions: list[OpsDecisionRead]
    product_count: int
    # what still stands between an approval and the store opening
    blockers: list[str]
    in_queue: bool
