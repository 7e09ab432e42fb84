"""Fixtures of the pricing tests (the small warehouse lives in small_warehouse.py)."""

from tests.pricing.small_warehouse import own_small_warehouse, small_warehouse  # noqa: F401  (fixtures)
