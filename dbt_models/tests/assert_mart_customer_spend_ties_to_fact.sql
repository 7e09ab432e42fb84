{{ config(meta={'dagster': {'ref': {'name': 'mart_customer_spend'}}}) }}
-- mart_customer_spend neither drops nor invents money or requests: for every month of fct_token_spend
-- and each scope_type (customer, segment), the mart's rows sum EXACTLY to the fact's cost_usd and
-- request rows' request_count for that month. Returns the month x scope_type pairs that differ (or
-- exist on one side only).
with

fact as (

    select
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as month,
        sum(cost_usd) as fact_cost_usd,
        {{ sum_count("case when record_type = 'request' then request_count else 0 end") }} as fact_requests
    from {{ ref('fct_token_spend') }}
    group by 1

),

scope_types as (

    select 'customer' as scope_type
    union all
    select 'segment' as scope_type

),

expected as (

    select fact.month, scope_types.scope_type, fact.fact_cost_usd, fact.fact_requests
    from fact
    cross join scope_types

),

mart as (

    select month, scope_type, sum(cost_usd) as mart_cost_usd, {{ sum_count('requests') }} as mart_requests
    from {{ ref('mart_customer_spend') }}
    group by month, scope_type

)

select
    coalesce(expected.month, mart.month) as month,
    coalesce(expected.scope_type, mart.scope_type) as scope_type,
    expected.fact_cost_usd,
    mart.mart_cost_usd,
    expected.fact_requests,
    mart.mart_requests

from expected
full outer join mart
    on expected.month = mart.month
    and expected.scope_type = mart.scope_type
where expected.month is null
    or mart.month is null
    or expected.fact_cost_usd <> mart.mart_cost_usd
    or expected.fact_requests <> mart.mart_requests
