"""A model with no price is flagged unpriced, listed with its token volume, and never costed at $0."""

from __future__ import annotations

import pytest

from tests.pricing.small_warehouse import (
    DAYS,
    UNPRICED_LOGGED,
    UNPRICED_MODEL_ID,
    UNPRICED_REQUEST,
    UNPRICED_USAGE,
)

pytestmark = pytest.mark.slow
PER_REQUEST_TOKENS = sum(UNPRICED_REQUEST.values())


def test_the_unpriced_model_has_no_price_book_match(small_warehouse):
    assert small_warehouse.query(f"""
        select priced_model, model_key from intermediate.int_models_resolved where model = '{UNPRICED_MODEL_ID}'
    """) == [(None, UNPRICED_MODEL_ID)]


def test_reconciliation_lists_its_volume_and_bills_it_as_unpriced(small_warehouse):
    rows = small_warehouse.query(f"""
        select usage_date, is_unpriced, reconciliation_basis, estimated_cost_usd, usage_at_list_usd,
               unpriced_tokens, usage_tokens, logged_tokens, billed_cost_usd, unpriced_model_usd, variance_usd,
               largest_cause
        from marts.mart_reconciliation where model_key = '{UNPRICED_MODEL_ID}' order by usage_date
    """)
    assert [r[0] for r in rows] == DAYS
    for (_, unpriced, basis, estimate, at_list, unpriced_tokens, usage_tokens, logged_tokens, billed,
         unpriced_usd, variance, cause) in rows:
        assert unpriced and basis == "unpriced"
        assert estimate is None and at_list is None  # never 0
        assert usage_tokens == unpriced_tokens == UNPRICED_USAGE * PER_REQUEST_TOKENS
        assert logged_tokens == UNPRICED_LOGGED * PER_REQUEST_TOKENS
        assert billed > 0 and unpriced_usd == variance == billed and cause == "unpriced_model"


def test_every_layer_costs_it_null_never_zero(small_warehouse):
    layers = {
        "intermediate.int_request_events_attributed": "estimated_cost_usd",
        "intermediate.int_usage_priced": "list_cost_usd",
        "marts.fct_token_spend": "estimated_cost_usd",
    }
    for relation, column in layers.items():
        flags, costed = small_warehouse.query(f"""
            select bool_and(is_unpriced), count({column}) from {relation} where model = '{UNPRICED_MODEL_ID}'
        """)[0]
        assert flags is True and costed == 0, relation
    billed = small_warehouse.query(f"""
        select sum(cost_usd) from marts.fct_token_spend where model = '{UNPRICED_MODEL_ID}'
    """)[0][0]
    assert billed > 0  # the bill is kept in the fact, attributed, even though the estimate is unknown
