"""Orders: the buyer's order, its seller orders (the unit of fulfilment and escrow), their timelines and timers."""
