"""The market trade model's own rules and aggregates."""
