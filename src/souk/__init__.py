"""Souk: one marketplace engine for sourcing, market, mall and cross-border trade."""

__version__ = "0.1.0"
