"""Web search and Console usage, end to end from raw Anthropic rows through dbt.

One workspace, two days. On the first day two API keys search the web (one key has an owner, the other
does not) and the Console is used with no key; the cost report bills the workspace's searches as one
`web_search` line. On the second day a web-search line arrives but the usage report counts no search.
Expected figures are computed here from the rows the test writes and the seeds it adds.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from dagster_project.lib.raw_tables import create_raw_tables
from tests.pricing.small_warehouse import copy_small_warehouse

pytestmark = pytest.mark.slow

WORKSPACE = "wrkspc_websearchtest"
OWNED_KEY, UNOWNED_KEY = "apikey_websearch_owned", "apikey_websearch_unowned"
KEY_OWNER = {"team": "support", "feature": "ticket-summary"}
WORKSPACE_OWNER = {"team": "growth", "feature": "search-answers"}
SEARCH_DAY, QUIET_DAY = dt.date(2026, 10, 5), dt.date(2026, 10, 6)
SONNET = "claude-sonnet-4-5-20250929"
# usage rows: key (None = Console), day, output tokens, web searches
USAGE = [
    (OWNED_KEY, SEARCH_DAY, 20_000, 30),
    (UNOWNED_KEY, SEARCH_DAY, 10_000, 10),
    (None, SEARCH_DAY, 5_000, 0),
    (OWNED_KEY, QUIET_DAY, 8_000, 0),
]
# cost lines: day, cost_type, amount in cents as Anthropic sends it
COSTS = [
    (SEARCH_DAY, "tokens", "52.5"),
    (SEARCH_DAY, "web_search", "40"),
    (QUIET_DAY, "tokens", "12"),
    (QUIET_DAY, "web_search", "10"),
]
SINGULAR_TESTS = (
    "assert_fct_token_spend_conserves_billed_cost",
    "assert_spend_allocation_conserves_each_cell",
    "assert_unlogged_residual_closes_usage",
    "assert_reconciliation_causes_sum_to_variance",
    "assert_mart_reconciliation_ties_to_billed",
)


def _append(path, rows: list[dict[str, str]]) -> None:
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in header})


def _write_raw(db) -> None:
    con = duckdb.connect(str(db))
    try:
        con.execute("set TimeZone = 'UTC'")
        create_raw_tables(con)
        for key, day, output, searches in USAGE:
            con.execute(
                """insert into raw.anthropic_usage_messages (bucket_start, bucket_end, api_key_id, workspace_id,
                   model, service_tier, context_window, uncached_input_tokens, cache_read_input_tokens,
                   cache_creation_5m_input_tokens, cache_creation_1h_input_tokens, output_tokens,
                   web_search_requests, _source_file, _loaded_at)
                   values (?, ?, ?, ?, ?, 'standard', '0-200k', 0, 0, 0, 0, ?, ?, 'test', '2026-10-07')""",
                [day, day + dt.timedelta(days=1), key, WORKSPACE, SONNET, output, searches],
            )
        for day, cost_type, cents in COSTS:
            tokens = cost_type == "tokens"
            con.execute(
                """insert into raw.anthropic_cost_report (bucket_start, bucket_end, workspace_id, description,
                   cost_type, token_type, model, service_tier, context_window, amount, currency, _source_file,
                   _loaded_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'USD', 'test', '2026-10-07')""",
                [day, day + dt.timedelta(days=1), WORKSPACE,
                 "Claude Sonnet 4.5 Usage - Output Tokens" if tokens else "Web Search Usage", cost_type,
                 "output_tokens" if tokens else None, SONNET if tokens else None,
                 "standard" if tokens else None, "0-200k" if tokens else None, cents],
            )
    finally:
        con.close()


@pytest.fixture(scope="module")
def web_search_warehouse(tmp_path_factory):
    wh = copy_small_warehouse(tmp_path_factory.mktemp("web_search"))
    _append(wh.seeds_dir / "api_key_owners.csv", [{
        "provider": "anthropic", "api_key_id": OWNED_KEY, "key_name": "web-search-test", **KEY_OWNER,
        "valid_from": "2026-01-01"}])
    _append(wh.seeds_dir / "project_owners.csv", [{
        "provider": "anthropic", "project_id": WORKSPACE, "project_name": "Web search test", **WORKSPACE_OWNER,
        "valid_from": "2026-01-01"}])
    _write_raw(wh.db)
    wh.build()
    wh.dbt("test", "--select", *SINGULAR_TESTS)  # conservation and reconciliation invariants hold
    return wh


def _billed(day: dt.date, cost_type: str | None = None) -> Decimal:
    return sum((Decimal(c) / 100 for d, t, c in COSTS if d == day and cost_type in (None, t)), Decimal(0))


def test_the_web_search_line_is_split_over_the_keys_by_their_searches(web_search_warehouse):
    rows = web_search_warehouse.query(f"""
        select api_key_id, request_count, cost_usd, attribution_method, team, feature, allocation_basis,
               model, total_tokens, estimated_cost_usd, is_unpriced
        from marts.fct_token_spend
        where record_type = 'web_search' and usage_date = '{SEARCH_DAY}'
        order by api_key_id
    """)
    searches = {key: n for key, day, _, n in USAGE if day == SEARCH_DAY and n > 0}
    line = _billed(SEARCH_DAY, "web_search")
    assert [r[0] for r in rows] == sorted(searches)
    for key, request_count, cost, method, team, feature, basis, model, tokens, estimate, unpriced in rows:
        assert request_count == searches[key]
        assert cost == (line * searches[key] / sum(searches.values())).quantize(Decimal("1e-9"))
        owner = KEY_OWNER if key == OWNED_KEY else WORKSPACE_OWNER
        assert method == ("api_key_owner" if key == OWNED_KEY else "project_owner")
        assert (team, feature) == (owner["team"], owner["feature"])
        assert basis == "web_search_requests" and model is None and tokens == 0
        assert estimate is None and unpriced is False
    assert sum(r[2] for r in rows) == line


def test_every_day_ties_to_the_bill_exactly(web_search_warehouse):
    fact = dict(web_search_warehouse.query(
        "select usage_date, sum(cost_usd) from marts.fct_token_spend group by 1"))
    assert fact == {day: _billed(day) for day in (SEARCH_DAY, QUIET_DAY)}


def test_a_web_search_line_with_no_searches_stays_unmatched_billed(web_search_warehouse):
    rows = web_search_warehouse.query(f"""
        select record_type, api_key_id, model, cost_usd, attribution_method, team
        from marts.fct_token_spend where usage_date = '{QUIET_DAY}' and model is null
    """)
    assert rows == [("unmatched_billed", None, None, _billed(QUIET_DAY, "web_search"), "project_owner",
                     WORKSPACE_OWNER["team"])]


def test_console_usage_is_labelled_console_and_attributed_by_the_workspace_owner(web_search_warehouse):
    rows = web_search_warehouse.query("""
        select record_type, attribution_method, team, feature, output_tokens, cost_usd > 0
        from marts.fct_token_spend where api_key_id is null and model is not null
    """)
    console_output = sum(o for key, _, o, _ in USAGE if key is None)
    assert rows == [("console", "project_owner", WORKSPACE_OWNER["team"], WORKSPACE_OWNER["feature"],
                     console_output, True)]


def test_reconciliation_names_the_same_cause(web_search_warehouse):
    rows = dict((r[0], r[1:]) for r in web_search_warehouse.query("""
        select usage_date, reconciliation_basis, web_search_usd, unmatched_billed_usd, non_token_billed_usd,
               unexplained_usd
        from marts.mart_reconciliation where model_key is null
    """))
    assert rows == {
        SEARCH_DAY: ("non_token", _billed(SEARCH_DAY, "web_search"), 0, 0, 0),
        QUIET_DAY: ("non_token", 0, _billed(QUIET_DAY, "web_search"), 0, 0),
    }
