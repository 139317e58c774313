"""The mall trade model's own rules and aggregates."""
