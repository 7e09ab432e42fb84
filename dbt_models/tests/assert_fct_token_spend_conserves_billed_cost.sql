{{ config(meta={'dagster': {'ref': {'name': 'fct_token_spend'}}}) }}
-- For every usage_date x provider, the fact's allocated cost equals what the provider billed (read
-- straight from staging, not from the intermediate union, so a union bug is caught too), exactly:
-- both sides are DECIMAL and the allocation gives each cell's rounding remainder to one unit. A billed day x provider missing from the fact fails; so does a fact day x provider that
-- carries cost with no bill. (A fact day with logged requests but no bill yet - today's events before
-- the cost report - carries $0 and passes.) Returns the failing day x provider rows.
with

billed as (

    select usage_date, provider, sum(cost_usd) as billed_cost_usd
    from {{ ref('stg_openai__costs') }}
    group by usage_date, provider

    union all

    select usage_date, provider, sum(cost_usd) as billed_cost_usd
    from {{ ref('stg_anthropic__costs') }}
    group by usage_date, provider

),

fact as (

    select usage_date, provider, sum(cost_usd) as fact_cost_usd
    from {{ ref('fct_token_spend') }}
    group by usage_date, provider

),

compared as (

    select
        coalesce(billed.usage_date, fact.usage_date) as usage_date,
        coalesce(billed.provider, fact.provider) as provider,
        billed.billed_cost_usd,
        fact.fact_cost_usd

    from billed
    full outer join fact
        on billed.usage_date = fact.usage_date
        and billed.provider = fact.provider

)

select *
from compared
where (fact_cost_usd is null and billed_cost_usd is not null)
    or (billed_cost_usd is null and fact_cost_usd <> 0)
    or coalesce(fact_cost_usd, 0) <> coalesce(billed_cost_usd, 0)
