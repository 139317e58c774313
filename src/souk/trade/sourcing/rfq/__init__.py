"""Sourcing: rfq."""
