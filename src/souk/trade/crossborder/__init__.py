"""The crossborder trade model's own rules and aggregates."""
