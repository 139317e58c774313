"""Ledger account names: build them and parse them back.

- ``psp_clearing``: money the payment provider holds for the marketplace (platform-wide)
- ``escrow:store:<store_id>:so:<seller_order_id>``: a paid seller order's money, held until receipt is confirmed
- ``payable:store:<store_id>``: what the marketplace owes a store (its available balance)
- ``commission:platform``: the platform's earned commission (platform-wide)
- ``payout_clearing``: payouts requested and not yet paid out by the payout provider (platform-wide)

Escrow and payable accounts keep a cached balance row; platform-wide accounts never do (their balance is the sum
of their postings), so no single row is updated by every checkout of the marketplace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

AccountKind = Literal["psp_clearing", "escrow", "payable", "commission", "payout_clearing"]

PSP_CLEARING = "psp_clearing"
COMMISSION = "commission:platform"
PAYOUT_CLEARING = "payout_clearing"

_ESCROW = re.compile(r"^escrow:store:([1-9][0-9]{0,9}):so:([1-9][0-9]{0,9})$")
_PAYABLE = re.compile(r"^payable:store:([1-9][0-9]{0,9})$")


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    kind: AccountKind
    store_id: int | None = None
    seller_order_id: int | None = None

    @property
    def cached(self) -> bool:
        """Whether the account keeps a cached balance row (per-store and per-seller-order accounts)."""
        return self.kind in ("escrow", "payable")

    @property
    def may_go_negative(self) -> bool:
        """Only a store's payable balance may go below zero (a refund clawed back after release).
        ``psp_clearing`` is an asset: its balance is negative by the sign convention and may never be positive
        (see ``natural_balance``)."""
        return self.kind == "payable"

    def natural_balance(self, balance: int) -> int:
        """The balance as the money it stands for: positive for what is held or owed (``psp_clearing`` is
        flipped because it is an asset)."""
        return -balance if self.kind == "psp_clearing" else balance


def escrow(store_id: int, seller_order_id: int) -> str:
    """The escrow account of one seller order."""
    _check_id(store_id, "store_id")
    _check_id(seller_order_id, "seller_order_id")
    return f"escrow:store:{store_id}:so:{seller_order_id}"


def payable(store_id: int) -> str:
    """A store's payable (available) balance."""
    _check_id(store_id, "store_id")
    return f"payable:store:{store_id}"


def parse(name: str) -> Account:
    """The account a name stands for; ``ValueError`` for a name that is not one of ours."""
    if name == PSP_CLEARING:
        return Account(name, "psp_clearing")
    if name == COMMISSION:
        return Account(name, "commission")
    if name == PAYOUT_CLEARING:
        return Account(name, "payout_clearing")
    if match := _ESCROW.match(name):
        return Account(name, "escrow", int(match.group(1)), int(match.group(2)))
    if match := _PAYABLE.match(name):
        return Account(name, "payable", int(match.group(1)))
    raise ValueError(f"not a ledger account: {name!r}")


def _check_id(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
