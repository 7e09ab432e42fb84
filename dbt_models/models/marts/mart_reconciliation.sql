-- One row per usage_date x provider x project_id x model_key (the cell the bill is matched in, as in
-- int_spend_allocated): the provider's bill beside the request-level estimate, never blended, and
-- the variance split into named causes. See docs/reconciliation.md for the algebra.
--
--   variance = billed - estimate
--            = unlogged_traffic + unpriced_model + price_drift + classification + logged_not_in_usage
--              + not_billed + unmatched_billed + web_search + non_token_billed + unexplained
--
-- Each cell is read one way (reconciliation_basis), first match wins:
--   non_token            the bill lines name no model: web_search = the web-search lines of a workspace
--                        and day whose usage shows searches (allocated to the searching keys in
--                        fct_token_spend); unmatched_billed = web-search lines of a day the usage
--                        shows none; non_token_billed = the rest (code execution...)
--   not_billed           no bill for the cell (yet): not_billed = -estimate
--   billed_without_usage a bill, and neither usage nor events: unmatched_billed = billed
--   unpriced             the model (or a used class) has no price: unpriced_model = billed; the
--                        estimate is NULL, never 0
--   billed_without_usage a bill and events, but no usage at list: unmatched_billed = billed, and the
--                        events are logged_not_in_usage
--   decomposed           with B = billed, U = usage at list, R = its unlogged part (int_reconciliation_groups):
--                        unlogged_traffic = B * R / U     (the billed share of usage no event explains)
--                        price_drift      = (B - unlogged_traffic) - (U - R)   (billed minus list, logged usage)
--                        classification, logged_not_in_usage: from int_reconciliation_groups
-- unexplained is what the named causes leave; the algebra leaves 0 (tested), so a non-zero value
-- means a cause is missing.
{%- set cell = ['usage_date', 'provider', 'project_id', 'model_key'] %}
{%- set causes = ['unlogged_traffic', 'unpriced_model', 'price_drift', 'classification', 'logged_not_in_usage',
                  'not_billed', 'unmatched_billed', 'web_search', 'non_token_billed', 'unexplained'] %}
with

groups as (

    select * from {{ ref('int_reconciliation_groups') }}

),

billed_costs as (

    select * from {{ ref('int_billed_costs_unioned') }}

),

models as (

    select * from {{ ref('int_models_resolved') }}

),

web_search_days as (

    -- workspaces and days whose usage counts web searches: their web-search lines are explained
    select usage_date, provider, project_id
    from {{ ref('int_provider_usage_unioned') }}
    group by usage_date, provider, project_id
    having sum(web_search_requests) > 0

),

billed_cells as (

    select
        billed_costs.usage_date,
        billed_costs.provider,
        billed_costs.project_id,
        coalesce(models.model_key, billed_costs.model) as model_key,
        sum(billed_costs.cost_usd) as billed_cost_usd,
        sum(case when billed_costs.cost_type = 'web_search' then billed_costs.cost_usd else 0 end)
            as web_search_billed_usd,
        max(
            case when billed_costs.cost_type = 'web_search' and web_search_days.usage_date is not null then 1 else 0 end
        ) = 1 as has_web_searches,
        max(
            case when billed_costs.model is not null and models.priced_model is null then 1 else 0 end
        ) = 1 as has_unpriced_bill

    from billed_costs
    left join models
        on billed_costs.provider = models.provider
        and billed_costs.model = models.model
    left join web_search_days
        on billed_costs.usage_date = web_search_days.usage_date
        and billed_costs.provider = web_search_days.provider
        and {{ null_safe_equal('billed_costs.project_id', 'web_search_days.project_id') }}
    group by
        billed_costs.usage_date, billed_costs.provider, billed_costs.project_id,
        coalesce(models.model_key, billed_costs.model)

),

usage_cells as (

    select
        {{ cell | join(', ') }},
        max(case when has_usage then 1 else 0 end) = 1 as has_usage,
        max(case when has_events then 1 else 0 end) = 1 as has_events,
        max(case when is_unpriced then 1 else 0 end) = 1 as has_unpriced_tokens,
        {{ sum_count('usage_tokens') }} as usage_tokens,
        {{ sum_count('logged_tokens') }} as logged_tokens,
        {{ sum_count('unlogged_tokens') }} as unlogged_tokens,
        {{ sum_count('not_in_usage_tokens') }} as not_in_usage_tokens,
        {{ sum_count('reclassified_tokens') }} as reclassified_tokens,
        {{ sum_count('logged_request_count') }} as logged_request_count,
        sum(usage_at_list_usd) as usage_at_list_usd,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(unlogged_at_list_usd) as unlogged_at_list_usd,
        sum(not_in_usage_at_list_usd) as not_in_usage_at_list_usd,
        sum(classification_at_list_usd) as classification_at_list_usd

    from groups
    group by {{ cell | join(', ') }}

),

cell_keys as (

    select distinct * from (
        select {{ cell | join(', ') }} from billed_cells
        union all
        select {{ cell | join(', ') }} from usage_cells
    ) as unioned

),

joined as (

    select
        {% for k in cell %}cell_keys.{{ k }},{% endfor %}
        billed_cells.billed_cost_usd is not null as has_billed_cost,
        coalesce(usage_cells.has_usage, false) as has_usage,
        coalesce(usage_cells.has_events, false) as has_events,
        coalesce(usage_cells.has_unpriced_tokens, false) or coalesce(billed_cells.has_unpriced_bill, false) as is_unpriced,
        cast(coalesce(billed_cells.billed_cost_usd, 0) as {{ money_type() }}) as billed,
        cast(coalesce(billed_cells.web_search_billed_usd, 0) as {{ money_type() }}) as web_search_billed,
        coalesce(billed_cells.has_web_searches, false) as has_web_searches,
        cast(coalesce(usage_cells.usage_at_list_usd, 0) as {{ money_type() }}) as usage_list,
        cast(coalesce(usage_cells.estimated_cost_usd, 0) as {{ money_type() }}) as estimate,
        cast(coalesce(usage_cells.unlogged_at_list_usd, 0) as {{ money_type() }}) as unlogged_list,
        cast(coalesce(usage_cells.not_in_usage_at_list_usd, 0) as {{ money_type() }}) as not_in_usage_list,
        cast(coalesce(usage_cells.classification_at_list_usd, 0) as {{ money_type() }}) as classification_list,
        coalesce(usage_cells.usage_tokens, 0) as usage_tokens,
        coalesce(usage_cells.logged_tokens, 0) as logged_tokens,
        coalesce(usage_cells.unlogged_tokens, 0) as unlogged_tokens,
        coalesce(usage_cells.not_in_usage_tokens, 0) as not_in_usage_tokens,
        coalesce(usage_cells.reclassified_tokens, 0) as reclassified_tokens,
        coalesce(usage_cells.logged_request_count, 0) as logged_request_count

    from cell_keys
    left join billed_cells
        on {{ null_safe_join('cell_keys', 'billed_cells', cell) }}
    left join usage_cells
        on {{ null_safe_join('cell_keys', 'usage_cells', cell) }}

),

classified as (

    select
        *,
        case
            when model_key is null then 'non_token'
            when not has_billed_cost then 'not_billed'
            when not has_usage and not has_events then 'billed_without_usage'
            when is_unpriced then 'unpriced'
            when usage_list = 0 then 'billed_without_usage'
            else 'decomposed'
        end as reconciliation_basis,
        -- the unpriced part is never costed: its estimate is unknown, not 0
        case when is_unpriced then 0 else estimate end as priced_estimate

    from joined

),

unlogged as (

    select
        *,
        case
            when reconciliation_basis = 'decomposed' and unlogged_list <> 0
                then {{ divide_money('billed * unlogged_list', 'usage_list') }}
            else cast(0 as {{ money_type() }})
        end as unlogged_traffic_usd

    from classified

),

causes as (

    select
        *,
        cast(billed - priced_estimate as {{ money_type() }}) as variance_usd,
        case when reconciliation_basis = 'unpriced' then billed - priced_estimate else 0 end as unpriced_model_usd,
        case
            when reconciliation_basis = 'decomposed'
                then (billed - unlogged_traffic_usd) - (usage_list - unlogged_list)
            else 0
        end as price_drift_usd,
        case
            when reconciliation_basis in ('decomposed', 'billed_without_usage') then classification_list
            else 0
        end as classification_usd,
        case
            when reconciliation_basis in ('decomposed', 'billed_without_usage') then not_in_usage_list
            else 0
        end as logged_not_in_usage_usd,
        case when reconciliation_basis = 'not_billed' then -priced_estimate else 0 end as not_billed_usd,
        case
            when reconciliation_basis = 'billed_without_usage' then billed
            when reconciliation_basis = 'non_token' and not has_web_searches then web_search_billed
            else 0
        end as unmatched_billed_usd,
        case
            when reconciliation_basis = 'non_token' and has_web_searches then web_search_billed
            else 0
        end as web_search_usd,
        case
            when reconciliation_basis = 'non_token' then billed - priced_estimate - web_search_billed
            else 0
        end as non_token_billed_usd

    from unlogged

),

remainder as (

    select
        *,
        variance_usd
        - ({% for c in causes if c != 'unexplained' %}{{ c }}_usd{% if not loop.last %} + {% endif %}{% endfor %})
            as unexplained_usd

    from causes

),

ranked as (

    select
        *,
        greatest({% for c in causes %}abs({{ c }}_usd){% if not loop.last %}, {% endif %}{% endfor %}) as largest_abs_usd

    from remainder

),

final as (

    select
        {{ surrogate_key(cell) }} as reconciliation_id,
        {{ cell | join(', ') }},
        billed as billed_cost_usd,
        case when is_unpriced then null else estimate end as estimated_cost_usd,
        variance_usd,
        case
            when billed = 0 then null
            else {{ divide_money('variance_usd * 100', 'billed') }}
        end as variance_pct,
        case when is_unpriced then null else usage_list end as usage_at_list_usd,
        case when is_unpriced then null else cast(usage_list - unlogged_list as {{ money_type() }}) end as logged_usage_at_list_usd,
        case when is_unpriced then null else unlogged_list end as unlogged_usage_at_list_usd,
        {% for c in causes -%}
        cast({{ c }}_usd as {{ money_type() }}) as {{ c }}_usd,
        {% endfor -%}
        case
            when largest_abs_usd = 0 then null
            {% for c in causes -%}
            when abs({{ c }}_usd) = largest_abs_usd then '{{ c }}'
            {% endfor -%}
        end as largest_cause,
        reconciliation_basis,
        has_billed_cost,
        has_usage,
        has_events,
        is_unpriced,
        usage_tokens,
        logged_tokens,
        unlogged_tokens,
        not_in_usage_tokens,
        reclassified_tokens,
        case when is_unpriced then greatest(usage_tokens, logged_tokens) else 0 end as unpriced_tokens,
        logged_request_count

    from ranked

)

select * from final
