"""Sourcing (DOMAIN.md "Sourcing aggregates"): a buyer organisation's request for quotation (``Rfq``, with the
suppliers it invites, ``RfqInvite``), the suppliers' competing ``Quote``s, the versioned ``Offer``s of each quote's
negotiation (the quote's own terms are offer 1; a revision or a counter-offer adds the next version), the
``Contract`` drafted from the agreed offer (versioned: an amendment is a new row both sides confirm), and the
``PaymentMilestone``s (deposit, balance) of the seller order a confirmed contract becomes.

Counters that enforce limits under concurrency are single rows changed by conditional updates:
``Rfq.quote_count`` (the cap per RFQ) and ``QuoteQuotaUse.used`` (a supplier organisation's quotes this month).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped, _now

INCOTERMS = ("EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP")
RFQ_STATUSES = ("open", "closed", "awarded", "cancelled")
RFQ_VISIBILITIES = ("public", "invited")
QUOTE_STATUSES = ("submitted", "accepted", "awarded", "declined", "withdrawn")
OFFER_KINDS = ("quote", "revision", "counter")
OFFER_SIDES = ("buyer", "supplier")
OFFER_STATUSES = ("open", "accepted", "superseded", "declined")
BALANCE_DUE = ("before_shipment", "on_documents")
CONTRACT_STATUSES = ("draft", "confirmed", "superseded", "cancelled")
MILESTONE_KINDS = ("deposit", "balance")
MILESTONE_STATUSES = ("pending", "due", "paid", "refunded", "cancelled")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Rfq(Timestamped, Base):
    __tablename__ = "rfqs"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    requirements: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(20))
    target_unit_price_amount: Mapped[int | None] = mapped_column(BigInteger)
    # the currency of the target price and the one quotes are compared in
    currency: Mapped[str] = mapped_column(String(3))
    destination_country: Mapped[str] = mapped_column(String(2))
    incoterm: Mapped[str] = mapped_column(String(3))
    needed_by: Mapped[date | None] = mapped_column(Date)
    quote_deadline: Mapped[datetime] = mapped_column(index=True)
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    status: Mapped[str] = mapped_column(String(10), default="open")
    # quotes taken (the cap is the policy's ``rfq_quote_cap``, snapshotted in ``quote_cap``)
    quote_count: Mapped[int] = mapped_column(default=0)
    quote_cap: Mapped[int]
    # [{"filename", "path", "content_type", "size_bytes"}]
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(20))
    awarded_quote_id: Mapped[int | None]
    # folded title + requirements for the board's search
    search_text: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_rfqs_status_visibility_id", "status", "visibility", "id"),
        CheckConstraint(f"status IN ({_in(RFQ_STATUSES)})", name="status"),
        CheckConstraint(f"visibility IN ({_in(RFQ_VISIBILITIES)})", name="visibility"),
        CheckConstraint(f"incoterm IN ({_in(INCOTERMS)})", name="incoterm"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("target_unit_price_amount IS NULL OR target_unit_price_amount > 0", name="target"),
        CheckConstraint("quote_count >= 0 AND quote_count <= quote_cap", name="quote_count"),
        {"sqlite_autoincrement": True},
    )


class RfqInvite(Base):
    """A supplier store invited to quote on an RFQ (for ``invited`` RFQs: only they may quote)."""

    __tablename__ = "rfq_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    rfq_id: Mapped[int] = mapped_column(ForeignKey("rfqs.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (UniqueConstraint("rfq_id", "store_id"),)


class QuoteQuotaUse(Base):
    """Quotes a supplier organisation sent in one calendar month (``period`` = "2026-11")."""

    __tablename__ = "quote_quota_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    period: Mapped[str] = mapped_column(String(7))
    used: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("organization_id", "period"),
        CheckConstraint("used >= 0", name="used"),
    )


class Quote(Timestamped, Base):
    """A supplier store's answer to an RFQ. Its current terms are copied from its latest offer, so the buyer's
    comparison reads one row per quote."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    rfq_id: Mapped[int] = mapped_column(ForeignKey("rfqs.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="submitted")
    currency: Mapped[str] = mapped_column(String(3))
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)
    # [[min_quantity, unit_price_amount], ...] ascending
    tiers: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    quantity: Mapped[int] = mapped_column(BigInteger)
    moq: Mapped[int] = mapped_column(BigInteger)
    lead_time_days: Mapped[int]
    incoterm: Mapped[str] = mapped_column(String(3))
    place: Mapped[str] = mapped_column(String(100), default="")
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    sample_price_amount: Mapped[int | None] = mapped_column(BigInteger)
    deposit_bps: Mapped[int]
    balance_due: Mapped[str] = mapped_column(String(16))
    valid_until: Mapped[date] = mapped_column(Date)
    message: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    revisions_used: Mapped[int] = mapped_column(default=0)
    # the newest offer (version) and the one both sides agreed on
    version: Mapped[int] = mapped_column(default=1)
    agreed_offer_id: Mapped[int | None]
    # the buyer answered (countered, accepted, declined, awarded): no more revisions
    buyer_answered_at: Mapped[datetime | None]
    # how long the supplier took to answer the RFQ (for the comparison's "response time")
    response_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("rfq_id", "store_id"),
        CheckConstraint(f"status IN ({_in(QUOTE_STATUSES)})", name="status"),
        CheckConstraint(f"incoterm IN ({_in(INCOTERMS)})", name="incoterm"),
        CheckConstraint(f"balance_due IN ({_in(BALANCE_DUE)})", name="balance_due"),
        CheckConstraint("unit_price_amount > 0 AND shipping_amount >= 0", name="amounts"),
        CheckConstraint("quantity > 0 AND moq > 0 AND lead_time_days >= 0", name="quantities"),
        CheckConstraint("deposit_bps >= 0 AND deposit_bps <= 10000", name="deposit_bps"),
        CheckConstraint("sample_price_amount IS NULL OR sample_price_amount > 0", name="sample_price"),
        {"sqlite_autoincrement": True},
    )


class Offer(Base):
    """One version of a quote's terms: the quote itself (version 1), a supplier's revision, or either side's
    counter-offer. Never changed after it is written except its ``status``."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))
    side: Mapped[str] = mapped_column(String(10))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    currency: Mapped[str] = mapped_column(String(3))
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    lead_time_days: Mapped[int]
    incoterm: Mapped[str] = mapped_column(String(3))
    place: Mapped[str] = mapped_column(String(100), default="")
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    deposit_bps: Mapped[int]
    balance_due: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=_now)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        UniqueConstraint("quote_id", "version"),
        CheckConstraint(f"kind IN ({_in(OFFER_KINDS)})", name="kind"),
        CheckConstraint(f"side IN ({_in(OFFER_SIDES)})", name="side"),
        CheckConstraint(f"status IN ({_in(OFFER_STATUSES)})", name="status"),
        CheckConstraint(f"incoterm IN ({_in(INCOTERMS)})", name="incoterm"),
        CheckConstraint(f"balance_due IN ({_in(BALANCE_DUE)})", name="balance_due"),
        CheckConstraint("unit_price_amount > 0 AND shipping_amount >= 0", name="amounts"),
        CheckConstraint("quantity > 0 AND lead_time_days >= 0", name="quantities"),
        CheckConstraint("deposit_bps >= 0 AND deposit_bps <= 10000", name="deposit_bps"),
        {"sqlite_autoincrement": True},
    )


class Contract(Timestamped, Base):
    """The terms of an awarded quote. ``number`` names the contract across its versions ("C-1001"); an amendment
    is the next ``version`` of the same number, drafted from the confirmed one, which stays as it was until the
    amendment is confirmed by both sides (then it is ``superseded``). Confirmed terms never change."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    rfq_id: Mapped[int] = mapped_column(ForeignKey("rfqs.id"), index=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"))
    buyer_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    buyer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    # the terms
    product_specification: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)
    goods_amount: Mapped[int] = mapped_column(BigInteger)
    shipping_amount: Mapped[int] = mapped_column(BigInteger)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    incoterm: Mapped[str] = mapped_column(String(3))
    place: Mapped[str] = mapped_column(String(100), default="")
    ship_by: Mapped[date] = mapped_column(Date)
    quality_terms: Mapped[str] = mapped_column(Text, default="")
    deposit_bps: Mapped[int]
    deposit_amount: Mapped[int] = mapped_column(BigInteger)
    balance_amount: Mapped[int] = mapped_column(BigInteger)
    balance_due: Mapped[str] = mapped_column(String(16))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # confirmations
    buyer_confirmed_at: Mapped[datetime | None]
    buyer_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    supplier_confirmed_at: Mapped[datetime | None]
    supplier_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]
    # the order a confirmed contract became
    seller_order_id: Mapped[int | None] = mapped_column(ForeignKey("seller_orders.id"), unique=True)

    __table_args__ = (
        UniqueConstraint("number", "version"),
        CheckConstraint(f"status IN ({_in(CONTRACT_STATUSES)})", name="status"),
        CheckConstraint(f"incoterm IN ({_in(INCOTERMS)})", name="incoterm"),
        CheckConstraint(f"balance_due IN ({_in(BALANCE_DUE)})", name="balance_due"),
        CheckConstraint("quantity > 0 AND unit_price_amount > 0 AND shipping_amount >= 0", name="amounts"),
        CheckConstraint("goods_amount = quantity * unit_price_amount", name="goods"),
        CheckConstraint("total_amount = goods_amount + shipping_amount", name="total"),
        CheckConstraint("deposit_amount + balance_amount = total_amount", name="plan"),
        CheckConstraint("deposit_bps >= 0 AND deposit_bps <= 10000", name="deposit_bps"),
        {"sqlite_autoincrement": True},
    )


class PaymentMilestone(Timestamped, Base):
    """One payment of a contract's seller order: the deposit (due when the order is made) or the balance (due
    before shipment, or once the supplier has shipped and sent the shipping documents). Each has its own
    payment; a paid milestone's money is in the seller order's escrow."""

    __tablename__ = "payment_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_order_id: Mapped[int] = mapped_column(ForeignKey("seller_orders.id"))
    kind: Mapped[str] = mapped_column(String(10))
    position: Mapped[int]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    due_at: Mapped[datetime | None]
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    paid_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("seller_order_id", "kind"),
        CheckConstraint(f"kind IN ({_in(MILESTONE_KINDS)})", name="kind"),
        CheckConstraint(f"status IN ({_in(MILESTONE_STATUSES)})", name="status"),
        CheckConstraint("amount > 0", name="amount"),
    )
