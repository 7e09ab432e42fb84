{{ config(meta={'dagster': {'ref': {'name': 'fct_token_spend'}}}) }}
-- Tokens the price book cannot price carry a NULL estimate, never 0 (a 0 would silently understate
-- list cost). Checked on requests and on the fact. Returns the offending rows.
select
    'int_request_events_attributed' as model_name,
    request_id as row_id,
    estimated_cost_usd
from {{ ref('int_request_events_attributed') }}
where is_unpriced and estimated_cost_usd is not null

union all

select
    'fct_token_spend' as model_name,
    token_spend_id as row_id,
    estimated_cost_usd
from {{ ref('fct_token_spend') }}
where is_unpriced and estimated_cost_usd is not null
