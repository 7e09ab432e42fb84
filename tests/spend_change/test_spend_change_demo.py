"""October against September on the demo: mart_spend_change names each change the demo plants in a
scope of its own (dagster_project/demo/README.md), with the right sign and size.

Sizes are checked against figures computed another way: the price cut from the price book and the
tokens after it; the cache rollout against mart_cache_batch_levers (list prices, not billed unit costs);
the model migration against the list-price gap of the migrated tokens; the new feature against the fact.
The algebra itself (effects sum to the change on every row) is a dbt test
(assert_spend_change_effects_sum_to_change) and the effects' arithmetic dbt unit tests
(_spend_change__unit_tests.yml).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dagster_project.demo.generator import CACHE_ROLLOUT_DAY, FEATURE_LAUNCH_DAY, MODEL_MIGRATION_DAY, STREAMS

pytestmark = pytest.mark.slow

OCTOBER = dt.date(2026, 10, 1)
EFFECTS = ["volume", "model_mix", "batch_share", "output_share", "cache", "unit_price", "other_charges"]
SCOPE_COLUMNS = ["provider", "feature", "workflow", "team"]


def month_row(warehouse, **scope) -> dict:
    where = " and ".join(f"{k} = ?" for k in scope)
    cur = warehouse.execute(
        f"select * from marts.mart_spend_change where period_grain = 'month' and period_start = ? and {where}",
        [OCTOBER, *scope.values()])
    rows = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]
    assert len(rows) == 1, (scope, rows)
    return rows[0]


def effects(row: dict) -> dict[str, Decimal]:
    out = {e: row[f"{e}_effect_usd"] for e in EFFECTS}
    out["new_scope"], out["gone_scope"] = row["new_scope_usd"], row["gone_scope_usd"]
    return out


def scope_of(warehouse, feature: str | None = None, workflow: str | None = None) -> dict:
    """The provider x feature x workflow x team of a planted stream, read from the fact."""
    cond = f"feature = '{feature}'" if feature else f"workflow = '{workflow}'"
    rows = warehouse.execute(f"""
        select provider, coalesce(feature, '(unattributed)'), coalesce(workflow, '(unattributed)'),
               coalesce(team, '(unattributed)'), sum(cost_usd)
        from marts.fct_token_spend where {cond} and usage_date >= '{OCTOBER}'
        group by all order by 5 desc""").fetchall()
    return dict(zip(SCOPE_COLUMNS, rows[0][:4], strict=True))


def test_every_comparison_sums_to_its_change(warehouse):
    rows = warehouse.execute("""
        select count(*), count(distinct period_grain),
               sum(case when volume_effect_usd + model_mix_effect_usd + batch_share_effect_usd
                             + output_share_effect_usd + cache_effect_usd + unit_price_effect_usd
                             + other_charges_effect_usd + new_scope_usd + gone_scope_usd <> change_usd
                        then 1 else 0 end)
        from marts.mart_spend_change""").fetchone()
    assert rows[0] > 0 and rows[1] == 2 and rows[2] == 0
    total = warehouse.execute("""
        select sum(change_usd) from marts.mart_spend_change where period_grain = 'month' and period_start = ?""",
                              [OCTOBER]).fetchone()[0]
    billed = warehouse.execute("""
        select sum(case when usage_date >= ? then cost_usd else -cost_usd end) from marts.fct_token_spend
        where usage_date >= ? - interval 1 month and usage_date < ? + interval 1 month""",
                               [OCTOBER, OCTOBER, OCTOBER]).fetchone()[0]
    assert total == billed


def test_price_cut_is_a_unit_price_effect_of_its_size(warehouse):
    # the price book's one change inside the demo period: the gpt-4.1-mini cut
    model, cut_day = warehouse.execute("""
        select model, valid_from from seeds.price_book
        where valid_from > '2026-09-01' and valid_from <= '2026-10-30' group by all""").fetchone()
    expected = warehouse.execute(f"""
        with before as (
            select token_class, usd_per_million_tokens as price from seeds.price_book
            where model = '{model}' and valid_to = '{cut_day}' and service_tier = 'standard' and context_window = 'all'
        ), after as (
            select token_class, usd_per_million_tokens as price from seeds.price_book
            where model = '{model}' and valid_from = '{cut_day}' and service_tier = 'standard' and context_window = 'all'
        ), tokens as (
            select token_class, sum(tokens) as tokens from intermediate.int_spend_token_classes
            where workflow = 'support-triage' and model_key = '{model}' and usage_date >= '{cut_day}'
            group by token_class
        )
        select cast(sum(tokens.tokens * (after.price - before.price) / 1000000) as decimal(38, 9))
        from tokens join before using (token_class) join after using (token_class)""").fetchone()[0]
    assert expected < 0
    row = month_row(warehouse, **scope_of(warehouse, workflow="support-triage"))
    assert row["largest_effect"] in ("unit_price", "volume")
    assert row["unit_price_effect_usd"] == pytest.approx(expected, rel=Decimal("0.02"))
    # nothing else in the scope changed model, batch mode or cache
    assert row["model_mix_effect_usd"] == 0 and row["batch_share_effect_usd"] == 0


def test_model_migration_is_a_model_mix_effect_of_the_price_gap(warehouse):
    assert MODEL_MIGRATION_DAY.startswith("2026-10")
    # the workflow whose stream stops using a model on the migration day (dagster_project/demo/generator.py)
    (workflow,) = {s.workflow for s in STREAMS if any(m.until == MODEL_MIGRATION_DAY for m in s.models)}
    scope = scope_of(warehouse, workflow=workflow)
    row = month_row(warehouse, **scope)
    mix = row["model_mix_effect_usd"]
    assert mix != 0 and row["largest_effect"] == "model_mix", effects(row)
    # size: the migrated model's October tokens at the list-price gap between the two models, per class
    gap = warehouse.execute(f"""
        with oct as (
            select model_key, token_class, sum(tokens) as tokens, max(usd_per_million) as price
            from intermediate.int_spend_token_classes
            where workflow = '{workflow}' and usage_date >= '{MODEL_MIGRATION_DAY}'
            group by all
        ), sept as (
            select token_class, max(usd_per_million) as price from intermediate.int_spend_token_classes
            where workflow = '{workflow}' and usage_date < '{MODEL_MIGRATION_DAY}' group by all
        )
        select cast(sum(oct.tokens * (oct.price - sept.price) / 1000000) as decimal(38, 9))
        from oct join sept using (token_class)
        where oct.model_key not in (select model_key from intermediate.int_spend_token_classes
                                    where workflow = '{workflow}' and usage_date < '{MODEL_MIGRATION_DAY}')
    """).fetchone()[0]
    assert gap != 0 and (mix > 0) == (gap > 0)
    assert mix == pytest.approx(gap, rel=Decimal("0.25"))


def test_cache_rollout_is_a_negative_cache_effect_equal_to_what_caching_saved(warehouse):
    assert CACHE_ROLLOUT_DAY.startswith("2026-10")
    # the nightly ticket digest: Anthropic, feature ticket-summary, no workflow
    anthropic = month_row(warehouse, provider="anthropic", feature="ticket-summary", workflow="(unattributed)")
    cache = anthropic["cache_effect_usd"]
    assert cache < 0 and anthropic["largest_effect"] == "cache", effects(anthropic)
    saved = warehouse.execute("""
        select sum(cache_net_savings_usd), sum(case when period_start < ? then cache_read_tokens else 0 end)
        from marts.mart_cache_batch_levers
        where provider = 'anthropic' and feature = 'ticket-summary' and workflow = '(unattributed)'
          and period_start >= ? - interval 1 month""", [OCTOBER, OCTOBER]).fetchone()
    assert saved[1] == 0  # no cache reads before the rollout
    assert -cache == pytest.approx(saved[0], rel=Decimal("0.02"))


def test_new_feature_is_a_new_scope_and_nothing_else(warehouse):
    assert FEATURE_LAUNCH_DAY.startswith("2026-10")
    scope = scope_of(warehouse, feature="in-app-copilot")
    row = month_row(warehouse, **scope)
    launched = warehouse.execute("""
        select sum(cost_usd), min(usage_date) from marts.fct_token_spend where feature = 'in-app-copilot'""").fetchone()
    assert launched[1] >= dt.date.fromisoformat(FEATURE_LAUNCH_DAY)
    assert row["prior_cost_usd"] == 0 and row["new_scope_usd"] == row["cost_usd"] == launched[0] > 0
    assert row["largest_effect"] == "new_scope"
    assert all(v == 0 for k, v in effects(row).items() if k != "new_scope")


def test_week_of_the_price_cut_shows_it(warehouse):
    cut_day = warehouse.execute("""
        select valid_from from seeds.price_book where valid_from > '2026-09-01' and valid_from <= '2026-10-30'
        limit 1""").fetchone()[0]
    scope = scope_of(warehouse, workflow="support-triage")
    where = " and ".join(f"{k} = '{v}'" for k, v in scope.items())
    week_after = warehouse.execute(f"""
        select unit_price_effect_usd from marts.mart_spend_change
        where period_grain = 'week' and {where} and period_start = ? + interval 7 day""",
                                   [cut_day - dt.timedelta(days=cut_day.weekday())]).fetchone()[0]
    assert week_after < 0
