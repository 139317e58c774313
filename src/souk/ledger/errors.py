"""Ledger errors, each with a stable code. They mean a caller built a wrong entry (a bug) or that money is not
there (escrow already released or refunded); either way nothing was written."""

from __future__ import annotations

from souk.errors import Conflict, Invalid
from souk.kit.money import format_money

# amounts in messages: international English, "US$12.50"
MESSAGE_LOCALE = "en_001"


class UnbalancedEntry(Invalid):
    """The postings of an entry do not sum to zero in every currency."""

    code = "unbalanced_entry"

    def __init__(self, sums: dict[str, int]) -> None:
        off = ", ".join(f"{currency} {total:+d}" for currency, total in sorted(sums.items()))
        super().__init__(f"Ledger entry does not balance: {off}.")
        self.sums = sums


class InvalidPosting(Invalid):
    code = "invalid_posting"


class IdempotencyKeyReused(Conflict):
    """An entry with this key exists with other postings."""

    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(f"Ledger entry {key!r} already exists with other postings.")
        self.key = key


class AccountOverdrawn(Conflict):
    """The entry would take an account that may not go negative below zero (an escrow already released or
    refunded, or a guarded payable balance)."""

    code = "account_overdrawn"

    def __init__(self, account: str, currency: str, balance: int, delta: int) -> None:
        super().__init__(
            f"Account {account} holds {format_money(balance, currency, 'en_001')}; "
            f"it cannot give {format_money(-delta, currency, 'en_001')}."
        )
        self.account = account
        self.currency = currency
        self.balance = balance
        self.delta = delta
