-- One row per spend unit (int_spend_units) plus one row per billed (usage_date x provider x project_id x
-- api_key_id x model x is_batch) that no unit explains (record_type unmatched_billed): the fact grain,
-- with each row's share of the provider's billed cost.
--
-- A cell is usage_date x provider x project_id x model_key x is_web_search. Token cells (is_web_search
-- false) hold the cost lines of one model and its request, unlogged_residual and console units; a
-- web-search cell holds the workspace's web-search lines of the day (no model) and its web_search
-- units, one per API key that searched. A cell's billed cost is split over its units by weight =
-- searches in a web-search cell; else estimated list cost when every unit of the cell is priced, else
-- total tokens, else equally. Each share is rounded to 9 decimals and the cell's rounding remainder
-- goes to its largest unit (ties: allocation_unit_id), so every cell - hence every day x provider -
-- sums EXACTLY to billed cost. Units in a cell with no billed cost get 0. Billed cells with no unit
-- (code execution; a web-search line on a day the usage report shows no searches) are kept whole,
-- attributed by API key owner (when the cost line has a key), then project owner, else untagged.
--
-- Customers: a cell's cost is shared over its units WITHOUT their customer (allocation_unit_id: the
-- spend units summed over customer_id), then each unit's share is split over its customers by the
-- cell's basis (their searches, estimated list cost or tokens; equally when those are all 0 or the
-- basis is equal_split), rounded to 9 decimals with the remainder to the largest (ties:
-- spend_unit_id). Summed over customer_id, the rows are exactly what they would be with no customer
-- dimension: the customer moves no cost between features, keys or days.
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set cell = ['usage_date', 'provider', 'project_id', 'model_key', 'is_web_search'] %}
{%- set dims = ['usage_date', 'provider', 'project_id', 'api_key_id', 'model', 'model_key', 'is_batch',
                'feature', 'workflow', 'team', 'employee_id', 'customer_id', 'attribution_method', 'record_type'] %}
with

units as (

    select
        *,
        record_type = 'web_search' as is_web_search
    from {{ ref('int_spend_units') }}
    where {{ in_rebuild_scope('usage_date') }}

),

allocation_units as (

    -- the spend units summed over their customers: what a cell's billed cost is shared over
    select
        allocation_unit_id,
        {{ cell | join(', ') }},
        {{ sum_count('request_count') }} as request_count,
        {{ sum_count('total_tokens') }} as total_tokens,
        case
            when max(case when estimated_cost_usd is null then 1 else 0 end) = 1 then null
            else sum(estimated_cost_usd)
        end as estimated_cost_usd,
        max(case when is_unpriced then 1 else 0 end) = 1 as is_unpriced

    from units
    group by allocation_unit_id, {{ cell | join(', ') }}

),

billed_costs as (

    select * from {{ ref('int_billed_costs_unioned') }}
    where {{ in_rebuild_scope('usage_date') }}

),

models as (

    select * from {{ ref('int_models_resolved') }}

),

owners as (

    select * from {{ ref('int_owners_resolved') }}

),

billed_keyed as (

    select
        billed_costs.*,
        models.priced_model,
        coalesce(models.model_key, billed_costs.model) as model_key,
        coalesce(billed_costs.cost_type = 'web_search', false) as is_web_search

    from billed_costs
    left join models
        on billed_costs.provider = models.provider
        and billed_costs.model = models.model

),

billed_cells as (

    select
        {{ cell | join(', ') }},
        sum(cost_usd) as billed_cost_usd

    from billed_keyed
    group by {{ cell | join(', ') }}

),

unit_cells as (

    select
        {{ cell | join(', ') }},
        count(*) as unit_count,
        sum(case when is_unpriced then 1 else 0 end) as unpriced_unit_count,
        sum(estimated_cost_usd) as cell_estimated_cost_usd,
        {{ sum_count('total_tokens') }} as cell_total_tokens

    from allocation_units
    group by {{ cell | join(', ') }}

),

cell_basis as (

    select
        unit_cells.*,
        billed_cells.billed_cost_usd,
        case
            when billed_cells.billed_cost_usd is null then 'no_billed_cost'
            when unit_cells.is_web_search then 'web_search_requests'
            when unit_cells.unpriced_unit_count = 0 and unit_cells.cell_estimated_cost_usd > 0 then 'estimated_cost'
            when unit_cells.cell_total_tokens > 0 then 'total_tokens'
            else 'equal_split'
        end as allocation_basis

    from unit_cells
    left join billed_cells
        on {{ null_safe_join('unit_cells', 'billed_cells', cell) }}

),

weighted as (

    select
        allocation_units.*,
        cell_basis.billed_cost_usd,
        cell_basis.allocation_basis,
        cast(
            case cell_basis.allocation_basis
                -- a web_search unit's request_count is its searches
                when 'web_search_requests' then allocation_units.request_count
                when 'estimated_cost' then allocation_units.estimated_cost_usd
                when 'total_tokens' then allocation_units.total_tokens
                else 1
            end
        as {{ money_type() }}) as allocation_weight

    from allocation_units
    inner join cell_basis  -- every unit has its cell: cell_basis is grouped from them
        on {{ null_safe_join('allocation_units', 'cell_basis', cell) }}

),

ranked as (

    select
        *,
        sum(allocation_weight) over (partition by {{ cell | join(', ') }}) as cell_weight,
        row_number() over (
            partition by {{ cell | join(', ') }}
            order by allocation_weight desc, allocation_unit_id
        ) as weight_rank

    from weighted

),

shared as (

    select
        *,
        case
            when billed_cost_usd is null then cast(0 as {{ money_type() }})
            else {{ divide_money('billed_cost_usd * allocation_weight', 'cell_weight') }}
        end as rounded_share_usd

    from ranked

),

unit_costs as (

    select
        allocation_unit_id,
        allocation_basis,
        cast(
            rounded_share_usd
            + case
                when weight_rank = 1 and billed_cost_usd is not null
                    then billed_cost_usd - sum(rounded_share_usd) over (partition by {{ cell | join(', ') }})
                else 0
            end
        as {{ money_type() }}) as unit_cost_usd

    from shared

),

-- each unit's cost split over its customers, by the same basis --------------------------------------
customer_weighted as (

    select
        units.*,
        unit_costs.unit_cost_usd,
        unit_costs.allocation_basis,
        cast(
            case unit_costs.allocation_basis
                when 'web_search_requests' then units.request_count
                when 'estimated_cost' then units.estimated_cost_usd
                when 'total_tokens' then units.total_tokens
                else 1
            end
        as {{ money_type() }}) as customer_weight

    from units
    inner join unit_costs  -- every spend unit has its allocation unit: grouped from units above
        on units.allocation_unit_id = unit_costs.allocation_unit_id

),

customer_ranked as (

    select
        *,
        sum(customer_weight) over (partition by allocation_unit_id) as unit_weight,
        count(*) over (partition by allocation_unit_id) as unit_customers,
        row_number() over (
            partition by allocation_unit_id
            order by customer_weight desc, spend_unit_id
        ) as customer_rank

    from customer_weighted

),

customer_shared as (

    select
        *,
        case
            when unit_weight > 0 then {{ divide_money('unit_cost_usd * customer_weight', 'unit_weight') }}
            else {{ divide_money('unit_cost_usd', 'unit_customers') }}
        end as rounded_share_usd

    from customer_ranked

),

allocated_units as (

    select
        spend_unit_id,
        {{ dims | join(', ') }},
        request_count,
        {% for c in token_classes() -%}
        {{ c }}_tokens,
        {% endfor -%}
        total_tokens,
        estimated_cost_usd,
        is_unpriced,
        cast(
            rounded_share_usd
            + case
                when customer_rank = 1
                    then unit_cost_usd - sum(rounded_share_usd) over (partition by allocation_unit_id)
                else 0
            end
        as {{ money_type() }}) as cost_usd,
        allocation_basis

    from customer_shared

),

unmatched_billed as (

    select
        billed_keyed.usage_date,
        billed_keyed.provider,
        billed_keyed.project_id,
        billed_keyed.api_key_id,
        billed_keyed.model,
        billed_keyed.model_key,
        billed_keyed.is_batch,
        -- a billed model with no price is unpriced; a line with no model (code execution) is not a model
        max(case when billed_keyed.model is not null and billed_keyed.priced_model is null then 1 else 0 end) = 1 as is_unpriced,
        sum(billed_keyed.cost_usd) as cost_usd

    from billed_keyed
    left join unit_cells
        on {{ null_safe_join('billed_keyed', 'unit_cells', cell) }}
    where unit_cells.unit_count is null
    group by
        billed_keyed.usage_date, billed_keyed.provider, billed_keyed.project_id, billed_keyed.api_key_id,
        billed_keyed.model, billed_keyed.model_key, billed_keyed.is_batch

),

unmatched_attributed as (

    select
        unmatched_billed.usage_date,
        unmatched_billed.provider,
        unmatched_billed.project_id,
        unmatched_billed.api_key_id,
        unmatched_billed.model,
        unmatched_billed.model_key,
        unmatched_billed.is_batch,
        owners.owner_feature as feature,
        owners.owner_workflow as workflow,
        owners.owner_team as team,
        owners.owner_employee_id as employee_id,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        coalesce(owners.owner_attribution_method, 'untagged') as attribution_method,
        'unmatched_billed' as record_type,
        unmatched_billed.is_unpriced,
        unmatched_billed.cost_usd

    from unmatched_billed
    left join owners
        on unmatched_billed.usage_date = owners.usage_date
        and unmatched_billed.provider = owners.provider
        and {{ null_safe_equal('unmatched_billed.project_id', 'owners.project_id') }}
        and {{ null_safe_equal('unmatched_billed.api_key_id', 'owners.api_key_id') }}

),

unmatched_rows as (

    select
        {{ surrogate_key(dims) }} as spend_unit_id,
        {{ dims | join(', ') }},
        cast(0 as {{ dbt.type_bigint() }}) as request_count,
        {% for c in token_classes() -%}
        cast(0 as {{ dbt.type_bigint() }}) as {{ c }}_tokens,
        {% endfor -%}
        cast(0 as {{ dbt.type_bigint() }}) as total_tokens,
        -- no tokens were reported for this cost, so there is nothing to estimate
        cast(null as {{ money_type() }}) as estimated_cost_usd,
        is_unpriced,
        cast(cost_usd as {{ money_type() }}) as cost_usd,
        'unmatched_billed' as allocation_basis

    from unmatched_attributed

),

final as (

    select * from allocated_units
    union all
    select * from unmatched_rows

)

select * from final
