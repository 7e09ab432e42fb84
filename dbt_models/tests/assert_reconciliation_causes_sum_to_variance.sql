-- The reconciliation algebra holds on every row, exactly (DECIMAL, no tolerance):
--   mart_reconciliation: variance = billed - coalesce(estimate, 0) = the sum of every named cause plus
--                        unexplained; an unpriced cell's estimate is NULL, never 0.
--   int_reconciliation_groups: usage at list - estimate = unlogged + classification + not in usage.
-- Returns the rows that break it.
with

mart as (

    select
        'mart_reconciliation' as model_name,
        reconciliation_id as row_id,
        variance_usd as expected_usd,
        unlogged_traffic_usd + unpriced_model_usd + price_drift_usd + classification_usd
            + logged_not_in_usage_usd + not_billed_usd + unmatched_billed_usd + web_search_usd
            + non_token_billed_usd
            + unexplained_usd as explained_usd,
        billed_cost_usd - coalesce(estimated_cost_usd, 0) as billed_minus_estimate_usd,
        is_unpriced and estimated_cost_usd is not null as is_unpriced_but_costed

    from {{ ref('mart_reconciliation') }}

),

groups as (

    select
        'int_reconciliation_groups' as model_name,
        {{ surrogate_key(['usage_date', 'provider', 'project_id', 'api_key_id', 'model_key']) }} as row_id,
        usage_at_list_usd - estimated_cost_usd as expected_usd,
        unlogged_at_list_usd + classification_at_list_usd + not_in_usage_at_list_usd as explained_usd,
        usage_at_list_usd - estimated_cost_usd as billed_minus_estimate_usd,
        is_unpriced and estimated_cost_usd is not null as is_unpriced_but_costed

    from {{ ref('int_reconciliation_groups') }}
    where not is_unpriced

),

checked as (

    select * from mart
    union all
    select * from groups

)

select *
from checked
where expected_usd <> explained_usd
    or expected_usd <> billed_minus_estimate_usd
    or is_unpriced_but_costed
