"""Sourcing: contract."""
