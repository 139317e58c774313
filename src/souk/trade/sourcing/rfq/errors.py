"""RFQ errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, Forbidden, NotFound


class RfqNotFound(NotFound):
    code = "rfq_not_found"

    def __init__(self) -> None:
        super().__init__("No such request for quotation.")


class OrganizationRequired(Conflict):
    """Posting an RFQ needs a business account."""

    code = "organization_required"

    def __init__(self) -> None:
        super().__init__(
            "Register your business first: requests for quotation are posted by an organisation "
            "(/seller/organizations/new).",
            fields={"organization_id": "you are not a member of any organisation"},
        )


class OrganizationCannotPost(Forbidden):
    code = "organization_cannot_post"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"This organisation is {status.replace('_', ' ')} and cannot post requests for quotation."
        )


class RfqNotOpen(Conflict):
    code = "rfq_not_open"

    def __init__(self, status: str) -> None:
        super().__init__(f"This request for quotation is already {status}.")


class RfqNotTakingQuotes(Conflict):
    code = "rfq_not_taking_quotes"

    def __init__(self) -> None:
        super().__init__(
            "This request for quotation is not taking quotes any more "
            "(it is closed, its deadline passed or it has all the quotes it takes)."
        )


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"

    def __init__(self) -> None:
        super().__init__("No such attachment.")


class SupplierCannotQuote(Conflict):
    """The store is not one that may answer RFQs (not a sourcing store, not active, organisation not verified)."""

    code = "supplier_cannot_quote"

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code)
