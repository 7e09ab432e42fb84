{{ config(meta={'dagster': {'ref': {'name': 'fct_token_spend'}}}) }}
-- Every deduplicated logged request reaches the fact: per usage_date x provider, the request_count of
-- the fact's `request` rows equals the number of requests in stg_events__requests. Returns the
-- day x provider rows that differ (or exist on one side only).
with

logged as (

    select usage_date, provider, count(*) as logged_requests
    from {{ ref('stg_events__requests') }}
    group by usage_date, provider

),

fact as (

    select usage_date, provider, sum(request_count) as fact_requests
    from {{ ref('fct_token_spend') }}
    where record_type = 'request'
    group by usage_date, provider

)

select
    coalesce(logged.usage_date, fact.usage_date) as usage_date,
    coalesce(logged.provider, fact.provider) as provider,
    logged.logged_requests,
    fact.fact_requests

from logged
full outer join fact
    on logged.usage_date = fact.usage_date
    and logged.provider = fact.provider
where logged.logged_requests is null
    or fact.fact_requests is null
    or logged.logged_requests <> fact.fact_requests
