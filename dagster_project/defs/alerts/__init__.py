"""Budgets and alerts: alert state (ops.alerts), the alerts sensor and the hard-cap export for a gateway."""
