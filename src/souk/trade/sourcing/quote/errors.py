"""Quote errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, NotFound


class QuoteNotFound(NotFound):
    code = "quote_not_found"

    def __init__(self) -> None:
        super().__init__("No such quote.")


class QuoteAlreadySent(Conflict):
    code = "quote_already_sent"

    def __init__(self) -> None:
        super().__init__("Your store already quoted this request; open your quote to change it.")


class QuoteQuotaExhausted(Conflict):
    code = "quote_quota_exhausted"

    def __init__(self, quota: int) -> None:
        super().__init__(
            f"Your organisation has sent its {quota} quotes this month; the quota renews on the 1st."
        )


class OwnRfq(Conflict):
    code = "own_rfq"

    def __init__(self) -> None:
        super().__init__("This request for quotation was posted by your own organisation.")
