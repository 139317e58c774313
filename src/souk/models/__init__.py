"""Every ORM model; importing this package registers them all on ``Base.metadata``."""

from souk.models.base import Base
from souk.models.catalog import Category, PriceTier, Product, ProductImage, Sku
from souk.models.inventory import Stock, StockMovement
from souk.models.job import Job
from souk.models.ops import OpsDecision
from souk.models.party import Invitation, Membership, Organization, OrganizationDocument
from souk.models.search import SearchDocument
from souk.models.store import Store
from souk.models.user import ApiToken, LoginFailure, User, WebSession

__all__ = [
    "ApiToken",
    "Base",
    "Category",
    "Invitation",
    "Job",
    "LoginFailure",
    "Membership",
    "OpsDecision",
    "Organization",
    "OrganizationDocument",
    "PriceTier",
    "Product",
    "ProductImage",
    "SearchDocument",
    "Sku",
    "Stock",
    "StockMovement",
    "Store",
    "User",
    "WebSession",
]
