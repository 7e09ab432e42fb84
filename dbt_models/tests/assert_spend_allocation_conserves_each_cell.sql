{{ config(meta={'dagster': {'ref': {'name': 'int_spend_allocated'}}}) }}
-- Stronger than the day x provider check: every allocation cell (usage_date x provider x project_id x
-- model_key) with billed cost sums EXACTLY (to the 9th decimal) to its billed cost, and cells
-- without billed cost carry 0. A workspace's web-search lines and its other lines naming no model
-- (model_key null) are checked together: a web-search line with no searches is kept in the same
-- unmatched_billed row as the code execution of that workspace and day. Returns the cells that do not.
with

billed as (

    select
        billed_costs.usage_date,
        billed_costs.provider,
        billed_costs.project_id,
        coalesce(models.model_key, billed_costs.model) as model_key,
        billed_costs.cost_usd
    from {{ ref('int_billed_costs_unioned') }} as billed_costs
    left join {{ ref('int_models_resolved') }} as models
        on billed_costs.provider = models.provider
        and billed_costs.model = models.model

),

billed_cells as (

    select usage_date, provider, project_id, model_key, sum(cost_usd) as billed_cost_usd
    from billed
    group by usage_date, provider, project_id, model_key

),

allocated_cells as (

    select usage_date, provider, project_id, model_key, sum(cost_usd) as allocated_cost_usd
    from {{ ref('int_spend_allocated') }}
    group by usage_date, provider, project_id, model_key

)

select
    coalesce(billed_cells.usage_date, allocated_cells.usage_date) as usage_date,
    coalesce(billed_cells.provider, allocated_cells.provider) as provider,
    coalesce(billed_cells.project_id, allocated_cells.project_id) as project_id,
    coalesce(billed_cells.model_key, allocated_cells.model_key) as model_key,
    billed_cells.billed_cost_usd,
    allocated_cells.allocated_cost_usd

from billed_cells
full outer join allocated_cells
    on {{ null_safe_join('billed_cells', 'allocated_cells', ['usage_date', 'provider', 'project_id', 'model_key']) }}
where coalesce(billed_cells.billed_cost_usd, 0) <> coalesce(allocated_cells.allocated_cost_usd, 0)
