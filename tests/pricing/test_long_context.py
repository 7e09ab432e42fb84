"""A logged Anthropic request above 200k input tokens is estimated at the long-context price.

Request events carry no context window; the rule (input = uncached + cache read + cache writes > 200,000)
is applied where requests are priced (int_request_events_attributed), so this checks the estimate the
reconciliation and the fact use, not only the price lookup (unit-tested in _pricing__unit_tests.yml).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.pricing.small_warehouse import DAYS, LONG_CONTEXT_REQUESTS, list_price, read_price_book, usd

pytestmark = pytest.mark.slow
CLASSES = {"uncached_input": "uncached_input", "cache_read_input": "cache_read_input",
           "cache_write_input": "cache_write_5m_input", "output": "output"}


def expected(book, tokens: dict[str, int], window: str) -> Decimal:
    micro = sum((Decimal(n) * list_price(book, "claude-sonnet-4-5", CLASSES[c], DAYS[0], window)
                 for c, n in tokens.items()), Decimal(0))
    return usd(1, micro)


def test_long_context_requests_take_the_long_context_price(small_warehouse):
    book = read_price_book(small_warehouse.price_book)
    got = dict(small_warehouse.query("""
        select request_id, estimated_cost_usd from intermediate.int_request_events_attributed
        where provider = 'anthropic'
    """))
    long_tokens, at_threshold = LONG_CONTEXT_REQUESTS["req-long"], LONG_CONTEXT_REQUESTS["req-at-threshold"]
    assert sum(v for c, v in long_tokens.items() if c != "output") == 200_001
    assert got["req-long"] == expected(book, long_tokens, "200k-1M")
    assert got["req-at-threshold"] == expected(book, at_threshold, "all")
