"""Reviews of order lines, store ratings, seller replies and seller credit."""
