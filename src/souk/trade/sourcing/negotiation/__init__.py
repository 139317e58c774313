"""Sourcing: negotiation."""
