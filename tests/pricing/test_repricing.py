"""Changing a price and rebuilding re-prices history: the days the changed row covers, and only those.

The warehouse is four days of one OpenAI project around the demo's gpt-4.1-mini price cut (2026-10-15),
billed by the provider at the list price in force; the test then edits a COPY of price_book.csv, as a
user would, and rebuilds.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest

from tests.pricing.small_warehouse import (
    DAYS,
    LOGGED_REQUESTS,
    PRICED_MODEL,
    REQUEST,
    USAGE_REQUESTS,
    list_price,
    read_price_book,
    usd,
)

pytestmark = pytest.mark.slow
CUT = dt.date(2026, 10, 15)


def request_cost(book, day: dt.date) -> Decimal:
    """List cost of one logged request on `day` (rounded once, as the models round each request)."""
    return usd(1, sum((Decimal(REQUEST[c]) * list_price(book, PRICED_MODEL, c, day) for c in REQUEST),
                      Decimal(0)))


def mart(wh, columns: str) -> dict[dt.date, tuple]:
    rows = wh.query(f"select usage_date, {columns} from marts.mart_reconciliation "
                    f"where model_key = '{PRICED_MODEL}' order by usage_date")
    return {r[0]: r[1:] for r in rows}


def test_the_estimate_uses_the_price_in_force_each_day(small_warehouse):
    book = read_price_book(small_warehouse.price_book)
    assert request_cost(book, DAYS[0]) != request_cost(book, CUT), "the seed has a price change on 2026-10-15"
    got = mart(small_warehouse, "estimated_cost_usd, billed_cost_usd, price_drift_usd, unlogged_traffic_usd, "
                                "unexplained_usd, reconciliation_basis")
    assert sorted(got) == DAYS
    for day, (estimate, billed, drift, unlogged, unexplained, basis) in got.items():
        assert basis == "decomposed"
        assert estimate == LOGGED_REQUESTS * request_cost(book, day), day
        # billed at list: no drift; the one request in eleven that was not logged is unlogged traffic
        assert drift == 0 and unexplained == 0, day
        assert unlogged == (billed / USAGE_REQUESTS).quantize(Decimal("0.000000001")), day


def test_changing_a_price_and_rebuilding_reprices_history(own_small_warehouse):
    wh = own_small_warehouse
    book = read_price_book(wh.price_book)
    before = mart(wh, "estimated_cost_usd, billed_cost_usd, price_drift_usd, usage_at_list_usd")
    fact_before = dict(wh.query("select usage_date, sum(cost_usd) from marts.fct_token_spend group by 1"))

    # a correction to the price in force since the cut: uncached input 0.32 -> 0.30 per million
    changed = [dict(r) for r in book]
    edited = 0
    for r in changed:
        if r["model"] == PRICED_MODEL and r["valid_from"] == CUT.isoformat() and r["service_tier"] == "standard" \
                and r["token_class"] in ("uncached_input", "cache_write_5m_input", "cache_write_1h_input"):
            r["usd_per_million_tokens"] = "0.30"
            edited += 1
    assert edited == 3
    with open(wh.price_book, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(book[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(changed)
    wh.build()

    after = mart(wh, "estimated_cost_usd, billed_cost_usd, price_drift_usd, usage_at_list_usd")
    for day in DAYS:
        old_estimate, billed, old_drift, old_usage = before[day]
        new_estimate, new_billed, new_drift, new_usage = after[day]
        assert new_billed == billed, "the bill never changes with the price book"
        if day < CUT:
            assert (new_estimate, new_drift, new_usage) == (old_estimate, old_drift, old_usage), day
        else:
            assert new_estimate == LOGGED_REQUESTS * request_cost(changed, day) < old_estimate, day
            assert new_usage == USAGE_REQUESTS * request_cost(changed, day), day
            # the provider still bills 0.32: the logged usage is billed above the (corrected) list
            per_request = usd(REQUEST["uncached_input"], Decimal("0.02"))
            assert new_drift == LOGGED_REQUESTS * per_request > 0, day

    # the fact is re-priced too (its estimate), and still ties to the bill
    fact_estimates = dict(wh.query(f"""
        select usage_date, sum(estimated_cost_usd) from marts.fct_token_spend
        where record_type = 'request' and model_key = '{PRICED_MODEL}' group by 1"""))
    for day in DAYS:
        assert fact_estimates[day] == after[day][0], day
    assert dict(wh.query("select usage_date, sum(cost_usd) from marts.fct_token_spend group by 1")) == fact_before
    wh.dbt("test", "--select", "assert_reconciliation_causes_sum_to_variance",
           "assert_mart_reconciliation_ties_to_billed", "assert_fct_token_spend_conserves_billed_cost")
