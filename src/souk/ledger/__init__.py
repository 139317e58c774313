"""The double-entry ledger (ARCHITECTURE rule 3; docs/adr/0006-ledger.md).

Sign convention: a posting's ``amount`` is in minor units and **positive = credit, negative = debit**, seen from
the marketplace's books. So every account that holds money *for someone* (a seller order's escrow, a store's
payable balance, the platform's commission, payouts on their way) has a positive balance in normal use, and
``psp_clearing`` (money the payment provider holds for us, an asset) is negative. DOMAIN.md's table is written
debit-positive; our postings are its numbers with the sign flipped:

| event | postings (credit +) |
|---|---|
| payment captured | psp_clearing -amount; escrow:so +amount |
| escrow released | escrow:so -amount; payable:store +(amount - fee); commission:platform +fee |
| refund before release | escrow:so -refund; psp_clearing +refund |
| refund after release | payable:store -refund; psp_clearing +refund (payable may go negative) |
| payout requested | payable:store -amount; payout_clearing +amount |
| payout paid | payout_clearing -amount; psp_clearing +amount |
| payout failed | payout_clearing -amount; payable:store +amount |

Each entry's postings sum to zero per currency. An account's balance is the sum of its postings; escrow accounts
may never be negative, payable accounts may (a claw-back after release). ``souk.ledger.service.ledger_service.post``
is the only writer; ``souk.ledger.postings`` builds the postings of each business event.
"""
