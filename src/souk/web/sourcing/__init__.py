"""Sourcing pages: RFQs and quotes (buyer and supplier), negotiation, contracts."""
