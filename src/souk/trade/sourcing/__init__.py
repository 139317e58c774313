"""The sourcing trade model's own rules and aggregates."""
