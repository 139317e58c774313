"""Negotiation errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, NotFound


class QuoteNotFound(NotFound):
    code = "quote_not_found"

    def __init__(self) -> None:
        super().__init__("No such quote.")


class OfferNotFound(NotFound):
    code = "offer_not_found"

    def __init__(self) -> None:
        super().__init__("No such offer on this quote.")


class OfferOutdated(Conflict):
    """The quote has a newer offer than the one the author saw."""

    code = "offer_outdated"

    def __init__(self) -> None:
        super().__init__("The terms changed since you opened this quote. Reload it and try again.")


class QuoteNotOpen(Conflict):
    """The quote is no longer being negotiated (accepted, awarded, declined or withdrawn)."""

    code = "quote_not_open"


class RfqNotOpen(Conflict):
    """The RFQ was awarded or cancelled."""

    code = "rfq_not_open"


class RevisionNotAllowed(Conflict):
    """No revision left, or the buyer already answered."""

    code = "revision_not_allowed"


class OwnOffer(Conflict):
    code = "own_offer"

    def __init__(self) -> None:
        super().__init__("This is your own offer: the other side accepts it, or counters.")


class OfferNotAgreed(Conflict):
    """The buyer's own counter-offer is the newest: the supplier has not agreed to it."""

    code = "offer_not_agreed"

    def __init__(self) -> None:
        super().__init__(
            "Your counter-offer is the latest: the supplier must accept it (or counter) before you can award."
        )


class RfqAlreadyAwarded(Conflict):
    code = "rfq_already_awarded"

    def __init__(self) -> None:
        super().__init__("This RFQ has already been awarded.")


class QuoteExpired(Conflict):
    """The supplier's quoted terms were valid until a date that has passed."""

    code = "quote_expired"
