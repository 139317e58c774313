"""Sourcing: quote."""
