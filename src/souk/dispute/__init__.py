"""Refund requests and disputes on seller orders (DOMAIN.md "Disputes")."""
