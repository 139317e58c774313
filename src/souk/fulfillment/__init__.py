"""Fulfilment: shipments of seller orders and the carriers' signed tracking webhooks."""
