"""On the demo organisation, web-search lines reach the keys that searched and Console usage says so.

Expectations come from the raw usage and cost rows as landed, not from the models.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

pytestmark = pytest.mark.slow
NANO = Decimal("0.000000001")


def test_each_web_search_line_is_split_over_the_searching_keys(warehouse):
    lines = warehouse.execute("""
        select cast(bucket_start as date), coalesce(workspace_id, 'default'),
               sum(cast(amount as decimal(38, 12)) * cast(0.01 as decimal(3, 2)))
        from raw.anthropic_cost_report where cost_type = 'web_search' group by 1, 2
    """).fetchall()
    searches = warehouse.execute("""
        select cast(bucket_start as date), coalesce(workspace_id, 'default'), api_key_id, sum(web_search_requests)
        from raw.anthropic_usage_messages group by 1, 2, 3 having sum(web_search_requests) > 0
    """).fetchall()
    fact = warehouse.execute("""
        select usage_date, project_id, api_key_id, request_count, cost_usd from marts.fct_token_spend
        where record_type = 'web_search'
    """).fetchall()
    assert lines and len({(d, w) for d, w, *_ in searches}) == len(lines)
    by_key = {(d, w, k): n for d, w, k, n in searches}
    assert {(d, w, k): n for d, w, k, n, _ in fact} == by_key  # one row per searching key, its searches
    keys_per_line = max(sum(1 for d2, w2, _ in by_key if (d2, w2) == (d, w)) for d, w, _ in lines)
    assert keys_per_line >= 3  # several callers share a line
    for day, workspace, billed in lines:
        shares = [(n, cost) for d, w, _, n, cost in fact if (d, w) == (day, workspace)]
        total = sum(n for n, _ in shares)
        assert sum(cost for _, cost in shares) == billed, (day, workspace)  # exact
        for n, cost in shares:  # in proportion, to the nano-dollar (the remainder goes to the largest)
            assert abs(cost - billed * n / total) <= NANO, (day, workspace, n)


def test_no_web_search_line_is_left_unmatched(warehouse):
    unmatched, other_lines = warehouse.execute("""
        select (select sum(cost_usd) from marts.fct_token_spend where record_type = 'unmatched_billed'),
               (select sum(cast(amount as decimal(38, 12)) * cast(0.01 as decimal(3, 2)))
                from raw.anthropic_cost_report where model is null and cost_type <> 'web_search')
    """).fetchone()
    assert unmatched > 0 and unmatched == other_lines  # code execution only


def test_console_usage_is_labelled_and_owned_by_its_workspace(warehouse):
    rows = warehouse.execute("""
        select record_type, attribution_method, count(*), sum(cost_usd)
        from marts.fct_token_spend
        where provider = 'anthropic' and api_key_id is null and record_type <> 'unmatched_billed'
        group by 1, 2
    """).fetchall()
    console_usage = warehouse.execute("""
        select count(*) from raw.anthropic_usage_messages where api_key_id is null
    """).fetchone()[0]
    assert console_usage > 0
    # Console token usage is console; Console searches are a web_search share with no key
    assert {(r[0], r[1]) for r in rows} == {("console", "project_owner"), ("web_search", "project_owner")}
    assert all(cost > 0 for *_, cost in rows)
