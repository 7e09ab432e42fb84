-- mart_reconciliation neither drops nor invents money or requests:
--   per usage_date x provider, billed_cost_usd sums EXACTLY to the providers' cost reports (read from
--   staging, not from the intermediate union) and to fct_token_spend's allocated cost;
--   per cell, logged_request_count and the estimate equal the request-level rows of
--   int_request_events_attributed (the estimate only where the cell is priced).
-- Returns the day x provider rows and cells that differ (or exist on one side only).
{%- set cell = ['usage_date', 'provider', 'project_id', 'model_key'] %}
with

billed as (

    select usage_date, provider, sum(cost_usd) as billed_usd
    from {{ ref('stg_openai__costs') }}
    group by usage_date, provider

    union all

    select usage_date, provider, sum(cost_usd) as billed_usd
    from {{ ref('stg_anthropic__costs') }}
    group by usage_date, provider

),

fact as (

    select usage_date, provider, sum(cost_usd) as fact_usd
    from {{ ref('fct_token_spend') }}
    group by usage_date, provider

),

mart_days as (

    select usage_date, provider, sum(billed_cost_usd) as mart_billed_usd
    from {{ ref('mart_reconciliation') }}
    group by usage_date, provider

),

days_compared as (

    select
        'day' as level,
        coalesce(mart_days.usage_date, billed.usage_date) as usage_date,
        coalesce(mart_days.provider, billed.provider) as provider,
        cast(null as {{ dbt.type_string() }}) as project_id,
        cast(null as {{ dbt.type_string() }}) as model_key,
        mart_days.mart_billed_usd as mart_value,
        billed.billed_usd as source_value,
        fact.fact_usd as other_value

    from mart_days
    full outer join billed
        on mart_days.usage_date = billed.usage_date
        and mart_days.provider = billed.provider
    left join fact
        on coalesce(mart_days.usage_date, billed.usage_date) = fact.usage_date
        and coalesce(mart_days.provider, billed.provider) = fact.provider

),

requests as (

    select
        {{ cell | join(', ') }},
        count(*) as request_count,
        sum(estimated_cost_usd) as estimated_usd
    from {{ ref('int_request_events_attributed') }}
    group by {{ cell | join(', ') }}

),

mart_cells as (

    select * from {{ ref('mart_reconciliation') }}
    where logged_request_count > 0

),

cells_compared as (

    select
        'cell' as level,
        {% for k in cell %}coalesce(mart_cells.{{ k }}, requests.{{ k }}) as {{ k }},{% endfor %}
        cast(mart_cells.logged_request_count as {{ money_type() }}) as mart_value,
        cast(requests.request_count as {{ money_type() }}) as source_value,
        case
            when mart_cells.is_unpriced then null
            else mart_cells.estimated_cost_usd - requests.estimated_usd
        end as other_value

    from mart_cells
    full outer join requests
        on {{ null_safe_join('mart_cells', 'requests', cell) }}

)

-- a day with no bill yet is in the mart at $0 (its cells are not_billed) and in the fact at $0
select * from days_compared
where mart_value is null
    or mart_value <> coalesce(source_value, 0)
    or mart_value <> coalesce(other_value, 0)

union all

select * from cells_compared
where mart_value is null
    or source_value is null
    or mart_value <> source_value
    or other_value <> 0
