"""The GX asset checks: which suite validates which frame of which asset, and how much a failure weighs.

Raw contracts (on each table's latest load) are ERROR and block the run, so dbt never builds on a
broken load; the marts' own contracts (columns, types, never-null columns) are dbt's, enforced by the
build. Untagged share and unpriced spend are WARN: they are attribution and price-book gaps to fix,
not broken data. Frames are computed in DuckDB, so aggregate expectations never pull row-level data;
the untagged share is the one marts.mart_untagged_share carries, read as it is.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.quality.gx_check import gx_asset_check, latest_load_sql

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN
FCT = ["marts", "fct_token_spend"]
UNTAGGED_SHARE = ["marts", "mart_untagged_share"]

RAW_SUITES = [
    "request_events",
    "outcome_events",
    "openai_usage_completions",
    "openai_costs",
    "anthropic_usage_messages",
    "anthropic_cost_report",
]

UNTAGGED_SHARE_SQL = """
select
    cast(usage_date as varchar) as usage_date,
    provider,
    cast(total_cost_usd as double) as total_cost_usd,
    cast(untagged_cost_usd as double) as untagged_cost_usd,
    cast(untagged_share as double) as untagged_share
from marts.mart_untagged_share
order by usage_date, provider
"""

# The command that fixes an unpriced model, named in every failing row (index column `fix`).
UNPRICED_FIX = ("make prices, then rebuild (a model the price database does not know: add its rows to "
                "price_book.csv)")

# Per provider x model: the unpriced rows, their requests and tokens, and the billed dollars they carry.
UNPRICED_SPEND_SQL = f"""
select
    provider,
    coalesce(model, '(no model)') as model,
    count(*) filter (where is_unpriced) as unpriced_rows,
    coalesce(sum(request_count) filter (where is_unpriced and record_type <> 'web_search'), 0) as unpriced_requests,
    cast(coalesce(sum(total_tokens) filter (where is_unpriced), 0) as double) as unpriced_tokens,
    cast(coalesce(sum(cost_usd) filter (where is_unpriced), 0) as double) as unpriced_cost_usd,
    case when count(*) filter (where is_unpriced) > 0 then '{UNPRICED_FIX}' end as fix
from marts.fct_token_spend
where record_type <> 'unmatched_billed'
group by all
order by unpriced_cost_usd desc, provider, model
"""

gx_checks: list[dg.AssetChecksDefinition] = [
    *[gx_asset_check(f"raw_{table}", ["raw", table], latest_load_sql(table), ERROR) for table in RAW_SUITES],
    gx_asset_check("mart_untagged_share", UNTAGGED_SHARE, UNTAGGED_SHARE_SQL, WARN),
    gx_asset_check("no_unpriced_spend", FCT, UNPRICED_SPEND_SQL, WARN),
]
