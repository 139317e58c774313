"""Contract errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, NotFound


class ContractNotFound(NotFound):
    code = "contract_not_found"

    def __init__(self) -> None:
        super().__init__("No such contract.")


class ContractOutdated(Conflict):
    """The contract changed since the editor loaded it (or it is no longer a draft)."""

    code = "contract_outdated"

    def __init__(self) -> None:
        super().__init__("The contract changed since you opened it. Reload it and try again.")


class ContractConfirmed(Conflict):
    """Confirmed terms never change; an amendment is the way to change them."""

    code = "contract_confirmed"

    def __init__(self) -> None:
        super().__init__("This contract is confirmed: its terms cannot change. Propose an amendment instead.")


class ContractNotAllowed(Conflict):
    """The contract is not in a state that allows this step."""

    code = "contract_not_allowed"


class AmendmentNeedsNewTerms(Conflict):
    """Quantity or price cannot change by amendment once money moved."""

    code = "amendment_needs_new_terms"
