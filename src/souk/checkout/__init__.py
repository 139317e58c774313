"""Checkout: one currency group of the cart becomes one order with a seller order per store, paid in the three
steps of ARCHITECTURE rule 5 (``souk.checkout.flows``)."""
