"""Every ORM model; importing this package registers them all on ``Base.metadata``."""

from souk.models.address import Address
from souk.models.base import Base
from souk.models.cart import Cart, CartLine
from souk.models.catalog import Category, PriceTier, Product, ProductImage, Sku
from souk.models.dispute import Dispute, DisputeEvent
from souk.models.fulfillment import Shipment, TrackingEvent
from souk.models.idempotency import FormTokenUse, IdempotencyKey
from souk.models.inventory import Stock, StockMovement
from souk.models.job import Job
from souk.models.ledger import AccountBalance, LedgerEntry, LedgerPosting
from souk.models.mail import OutboundEmail, PasswordResetRequest, PasswordResetToken
from souk.models.messaging import Conversation, Message, MessageAttachment
from souk.models.notification import Notification
from souk.models.ops import OpsDecision
from souk.models.order import Order, OrderEvent, OrderLine, SellerOrder
from souk.models.party import Invitation, Membership, Organization, OrganizationDocument
from souk.models.payment import Payment, PaymentRefund, SimulatedIntent, SimulatedRefund, WebhookEvent
from souk.models.payout import Payout, SimulatedTransfer
from souk.models.review import CreditPoint, Review, ReviewPhoto, StoreRating
from souk.models.search import SearchDocument
from souk.models.shipping import ShippingMethod
from souk.models.sourcing import (
    Contract,
    Offer,
    PaymentMilestone,
    Quote,
    QuoteQuotaUse,
    Rfq,
    RfqInvite,
)
from souk.models.store import Store
from souk.models.user import ApiToken, LoginFailure, User, WebSession

__all__ = [
    "AccountBalance",
    "Address",
    "ApiToken",
    "Base",
    "Cart",
    "CartLine",
    "Category",
    "Contract",
    "Conversation",
    "CreditPoint",
    "Dispute",
    "DisputeEvent",
    "FormTokenUse",
    "IdempotencyKey",
    "Invitation",
    "Job",
    "LedgerEntry",
    "LedgerPosting",
    "LoginFailure",
    "Membership",
    "Message",
    "MessageAttachment",
    "Notification",
    "Offer",
    "OpsDecision",
    "Order",
    "OrderEvent",
    "OrderLine",
    "Organization",
    "OrganizationDocument",
    "OutboundEmail",
    "PasswordResetRequest",
    "PasswordResetToken",
    "Payment",
    "PaymentMilestone",
    "PaymentRefund",
    "Payout",
    "PriceTier",
    "Product",
    "ProductImage",
    "Quote",
    "QuoteQuotaUse",
    "Review",
    "ReviewPhoto",
    "Rfq",
    "RfqInvite",
    "SearchDocument",
    "SellerOrder",
    "Shipment",
    "ShippingMethod",
    "SimulatedIntent",
    "SimulatedRefund",
    "SimulatedTransfer",
    "Sku",
    "Stock",
    "StockMovement",
    "Store",
    "StoreRating",
    "TrackingEvent",
    "User",
    "WebSession",
    "WebhookEvent",
]
