"""The four rules the warehouse keeps, checked on the demo organisation built end to end.

Expected figures are computed here from the raw tables and the seeds, independently of the dbt
models; nothing is hard-coded.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dagster_project import settings

pytestmark = pytest.mark.slow

BILLED_FROM_RAW = """
    select cast(bucket_start as date) as usage_date, 'openai' as provider,
           sum(cast(amount_value as decimal(38, 12))) as billed
    from raw.openai_costs group by 1, 2
    union all
    select cast(bucket_start as date), 'anthropic', sum(cast(amount as decimal(38, 12)) / 100)
    from raw.anthropic_cost_report group by 1, 2
"""


def test_conservation_every_day_and_provider_ties_to_the_cent(warehouse):
    rows = warehouse.execute(f"""
        with billed as ({BILLED_FROM_RAW}),
        fact as (select usage_date, provider, sum(cost_usd) as cost from marts.fct_token_spend group by 1, 2)
        select usage_date, provider, billed, cost from billed full join fact using (usage_date, provider)
    """).fetchall()
    assert len(rows) == 2 * 60  # both providers, every demo day
    for day, provider, billed, cost in rows:
        assert billed is not None and cost is not None, (day, provider)
        assert abs(Decimal(billed) - Decimal(cost)) < Decimal("0.005"), (day, provider, billed, cost)


def test_spend_no_event_explains_stays_in_the_fact(warehouse):
    residual, unmatched = warehouse.execute("""
        select sum(case when record_type = 'unlogged_residual' then cost_usd end),
               sum(case when record_type = 'unmatched_billed' then cost_usd end)
        from marts.fct_token_spend
    """).fetchone()
    assert residual > 0 and unmatched > 0


def test_every_logged_request_reaches_the_fact_once(warehouse):
    raw_distinct = warehouse.execute("select count(distinct request_id) from raw.request_events").fetchone()[0]
    in_fact = warehouse.execute(
        "select sum(request_count) from marts.fct_token_spend where record_type = 'request'"
    ).fetchone()[0]
    assert raw_distinct > 10_000
    assert in_fact == raw_distinct


def test_tagged_requests_keep_their_tags(warehouse):
    """A request's own tags win over any owner mapping."""
    mismatches = warehouse.execute("""
        with tagged as (
            select cast(occurred_at as date) as d, provider, feature, count(*) as n
            from (select distinct on (request_id) * from raw.request_events order by request_id, _loaded_at)
            where feature is not null group by all
        ), fact as (
            select usage_date as d, provider, feature, sum(request_count) as n
            from marts.fct_token_spend where attribution_method = 'request_tag' and record_type = 'request'
            group by all
        )
        select * from tagged full join fact using (d, provider, feature)
        where tagged.n is distinct from fact.n and tagged.n is not null
    """).fetchall()
    assert mismatches == []


def test_key_rotation_keeps_the_owner_and_history(warehouse):
    owners = warehouse.execute("""
        select api_key_id, team, valid_from, valid_to from seeds.api_key_owners
        where key_name like '%rotated%' or api_key_id in (
            select a.api_key_id from seeds.api_key_owners a join seeds.api_key_owners b
            on a.team = b.team and a.valid_to = b.valid_from)
        order by valid_from
    """).fetchall()
    assert len(owners) == 2, owners
    (old_key, team, _, rotated_at), (new_key, new_team, new_from, _) = owners
    assert team == new_team and rotated_at == new_from
    by_key = dict(warehouse.execute(f"""
        select api_key_id, list(distinct team order by team) from marts.fct_token_spend
        where api_key_id in ('{old_key}', '{new_key}') and attribution_method = 'api_key_owner'
        group by 1
    """).fetchall())
    assert by_key.get(old_key) == [team] and by_key.get(new_key) == [team]
    dates = warehouse.execute(f"""
        select max(usage_date) filter (where api_key_id = '{old_key}'), min(usage_date) filter (where api_key_id = '{new_key}')
        from marts.fct_token_spend
    """).fetchone()
    assert dates[0] < rotated_at <= dates[1]


def test_team_move_attributes_spend_by_date(warehouse):
    stints = warehouse.execute("""
        select employee_id, team, valid_from, valid_to from seeds.employees
        where employee_id in (select employee_id from seeds.employees group by 1 having count(*) > 1)
        order by employee_id, valid_from
    """).fetchall()
    assert len(stints) == 2
    (emp, before_team, _, moved_at), (_, after_team, _, _) = stints
    got = warehouse.execute(f"""
        select usage_date < '{moved_at}' as before_move, list(distinct team order by team)
        from marts.fct_token_spend where employee_id = '{emp}' and record_type = 'request'
        group by 1 order by 1
    """).fetchall()
    assert dict(got) == {True: [before_team], False: [after_team]}


def test_unpriced_model_is_flagged_and_never_costed_at_zero(warehouse):
    unpriced = warehouse.execute("""
        select model, sum(total_tokens), count(*) filter (where estimated_cost_usd is not null),
               sum(cost_usd)
        from marts.fct_token_spend where is_unpriced group by 1
    """).fetchall()
    assert unpriced, "the demo has a model missing from the price book"
    priced_patterns = [r[0] for r in warehouse.execute("select distinct match_pattern from seeds.price_book").fetchall()]
    for model, tokens, estimated, billed in unpriced:
        assert tokens > 0 and estimated == 0 and billed > 0
        assert not any(warehouse.execute(f"select '{model}' like '{p}'").fetchone()[0] for p in priced_patterns)
    daily = warehouse.execute("select sum(unpriced_tokens) from marts.mart_spend_daily").fetchone()[0]
    assert daily == sum(r[1] for r in unpriced)


def test_price_change_reprices_by_date(warehouse):
    """The estimate for a day uses the price in force that day, per token class, with the batch discount."""
    provider, model, pattern, change_day = warehouse.execute("""
        select provider, model, match_pattern, valid_to from seeds.price_book
        where valid_to is not null order by valid_to limit 1
    """).fetchone()
    expected = warehouse.execute(f"""
        with req as (
            select *, cast(occurred_at as date) as d
            from (select distinct on (request_id) * from raw.request_events order by request_id, _loaded_at)
            where provider = '{provider}' and lower(model) like '{pattern}'
        ), classes as (
            select d, batch, 'uncached_input' as token_class, uncached_input_tokens as tokens from req
            union all select d, batch, 'cache_read_input', cache_read_input_tokens from req
            union all select d, batch, 'cache_write_5m_input', cache_write_input_tokens from req
            union all select d, batch, 'output', output_tokens from req
        )
        select c.d < '{change_day}' as before_change,
               sum(c.tokens * p.usd_per_million_tokens / 1000000 * case when c.batch then p.batch_multiplier else 1 end)
        from classes c
        join seeds.price_book p
          on p.provider = '{provider}' and p.model = '{model}' and p.token_class = c.token_class
         and p.service_tier = 'standard' and p.context_window = 'all'
         and p.valid_from <= c.d and (p.valid_to is null or c.d < p.valid_to)
        group by 1 order by 1
    """).fetchall()
    got = warehouse.execute(f"""
        select usage_date < '{change_day}', sum(estimated_cost_usd) from marts.fct_token_spend
        where provider = '{provider}' and model_key = '{model}' and record_type = 'request'
        group by 1 order by 1
    """).fetchall()
    assert len(expected) == 2 and len(got) == 2
    for (e_before, e_cost), (g_before, g_cost) in zip(expected, got, strict=True):
        assert e_before == g_before
        assert abs(Decimal(e_cost) - Decimal(g_cost)) < Decimal("0.000001"), (e_before, e_cost, g_cost)


def test_untagged_mart_ranks_the_keys_and_projects_that_cause_it(warehouse):
    total_untagged = warehouse.execute(
        "select sum(cost_usd) from marts.fct_token_spend where attribution_method = 'untagged'"
    ).fetchone()[0]
    mart_total = warehouse.execute("select sum(untagged_cost_usd) from marts.mart_untagged_spend").fetchone()[0]
    assert abs(Decimal(total_untagged) - Decimal(mart_total)) < Decimal("0.000001")
    top = warehouse.execute("""
        select offender_rank, untagged_cost_usd from marts.mart_untagged_spend
        where usage_date = (select min(usage_date) from marts.mart_untagged_spend) and provider = 'openai'
        order by offender_rank
    """).fetchall()
    assert [r[0] for r in top] == list(range(1, len(top) + 1))
    assert [r[1] for r in top] == sorted((r[1] for r in top), reverse=True)
    share = warehouse.execute("""
        select min(untagged_share), max(untagged_share) from marts.mart_untagged_spend
    """).fetchone()
    assert 0 < share[0] <= share[1] < 1


def test_untagged_share_of_the_demo_is_between_10_and_20_percent(warehouse):
    share = warehouse.execute("""
        select sum(cost_usd) filter (where attribution_method = 'untagged') / sum(cost_usd) from marts.fct_token_spend
    """).fetchone()[0]
    assert Decimal("0.10") <= share <= Decimal("0.20")


def test_marts_answer_their_questions(warehouse):
    features = warehouse.execute("""
        select count(distinct feature) from marts.mart_feature_spend
        where interactions > 0 and cost_per_interaction_usd > 0
    """).fetchone()[0]
    workflows = warehouse.execute("""
        select count(*) from marts.mart_workflow_spend
        where completed_tasks > 0 and cost_per_successful_outcome_usd >= cost_per_completed_task_usd
    """).fetchone()[0]
    idle = warehouse.execute("select sum(idle_seats), sum(active_seats) from marts.mart_team_spend").fetchone()
    assert features >= 3 and workflows >= 4 * 2 and idle[0] > 0 and idle[1] > 0


def test_breaking_conservation_is_caught(built_warehouse, tmp_path):
    """Add a billed line no model has seen; the conservation test must fail and name the day."""
    copy = tmp_path / "broken.duckdb"
    shutil.copy(built_warehouse["db"], copy)
    con = duckdb.connect(str(copy))
    con.execute("""
        insert into raw.anthropic_cost_report (bucket_start, bucket_end, workspace_id, description, cost_type,
            amount, currency, _source_file, _loaded_at)
        values ('2026-09-15', '2026-09-16', null, 'Surprise line', 'tokens', '1234.5', 'USD', 'test', now())
    """)
    con.close()
    env = {**os.environ, "TOKENSPEND_DUCKDB_PATH": str(copy)}
    dbt = str(Path(sys.executable).parent / "dbt")
    result = subprocess.run(
        [dbt, "test", "--select", "assert_fct_token_spend_conserves_billed_cost",
         "--project-dir", str(settings.DBT_PROJECT_DIR), "--profiles-dir", str(settings.DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        env=env, capture_output=True, text=True,
    )
    assert result.returncode != 0, result.stdout[-2000:]
    assert "FAIL 1 assert_fct_token_spend_conserves_billed_cost" in result.stdout


def test_untagged_share_mart_is_the_facts_share_per_day_and_overall(warehouse):
    """Computed here from the fact: billed and untagged cost per day and provider, and over everything."""
    rows = warehouse.execute("""
        with fact as (
            select usage_date, provider, sum(cost_usd) as billed,
                   coalesce(sum(cost_usd) filter (where attribution_method = 'untagged'), 0) as untagged
            from marts.fct_token_spend group by all
        )
        select fact.usage_date, fact.provider, fact.billed, fact.untagged, mart.total_cost_usd,
               mart.untagged_cost_usd, mart.untagged_share
        from fact full join marts.mart_untagged_share as mart using (usage_date, provider)
    """).fetchall()
    assert len(rows) == 2 * 60
    for day, provider, billed, untagged, total_cost, untagged_cost, share in rows:
        assert (total_cost, untagged_cost) == (billed, untagged), (day, provider)
        assert abs(share - untagged / billed) <= Decimal("0.0000000005"), (day, provider)
    overall = warehouse.execute("""
        select distinct overall_total_cost_usd, overall_untagged_cost_usd, overall_untagged_share
        from marts.mart_untagged_share
    """).fetchall()
    billed, untagged = warehouse.execute("""
        select sum(cost_usd), sum(cost_usd) filter (where attribution_method = 'untagged') from marts.fct_token_spend
    """).fetchone()
    assert len(overall) == 1 and overall[0][:2] == (billed, untagged)
    assert abs(overall[0][2] - untagged / billed) <= Decimal("0.0000000005")


def test_untagged_check_warns_with_the_facts_share_and_top_offenders(built_warehouse, warehouse):
    import dagster as dg

    records = built_warehouse["instance"].event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["marts", "mart_untagged_share"]), "untagged_spend_share"), limit=1
    )
    assert records, "the untagged share check ran"
    evaluation = records[0].event.dagster_event.event_specific_data
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    billed, untagged = warehouse.execute("""
        select sum(cost_usd), sum(cost_usd) filter (where attribution_method = 'untagged') from marts.fct_token_spend
    """).fetchone()
    assert evaluation.metadata["untagged_share"].value == round(float(untagged / billed), 6) > 0.05
    assert evaluation.metadata["untagged_cost_usd"].value == float(untagged)
    assert evaluation.metadata["total_cost_usd"].value == float(billed)
    top = warehouse.execute("""
        select provider, coalesce(project_id, '(none)'), coalesce(api_key_id, '(none)'), sum(cost_usd) as c
        from marts.fct_token_spend where attribution_method = 'untagged'
        group by all order by c desc, 1, 2, 3 limit 10
    """).fetchall()
    table = evaluation.metadata["top_offenders"].value.splitlines()[2:]
    assert table == [f"| {p} | {proj} | {key} | {cost:,.2f} |" for p, proj, key, cost in top]


def test_the_demo_period_is_fixed(warehouse):
    first, last = warehouse.execute("select min(usage_date), max(usage_date) from marts.fct_token_spend").fetchone()
    assert (first, last) == (dt.date(2026, 9, 1), dt.date(2026, 10, 30))
