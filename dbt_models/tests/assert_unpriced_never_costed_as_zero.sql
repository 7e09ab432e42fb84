{{ config(meta={'dagster': {'ref': {'name': 'fct_token_spend'}}}) }}
-- Tokens the price book cannot price carry a NULL estimate, never 0 (a 0 would silently understate
-- list cost). "Unpriced" is judged here from the price book itself, not from the models' own flag:
--   * a request whose model id matches no price-book pattern must have a NULL estimate;
--   * no request or fact row with tokens may have an estimate of exactly 0.
-- Returns the offending rows.
with

requests as (

    select * from {{ ref('int_request_events_attributed') }}

),

models as (

    select * from {{ ref('int_models_resolved') }}

),

fact as (

    select * from {{ ref('fct_token_spend') }}

)

select
    'int_request_events_attributed' as model_name,
    requests.request_id as row_id,
    'model matches no price-book pattern but has an estimate' as problem,
    requests.estimated_cost_usd
from requests
inner join models
    on requests.provider = models.provider
    and requests.model = models.model
where models.priced_model is null
    and requests.estimated_cost_usd is not null

union all

select
    'int_request_events_attributed' as model_name,
    request_id as row_id,
    'tokens costed at exactly 0' as problem,
    estimated_cost_usd
from requests
where estimated_cost_usd = 0
    and total_tokens > 0

union all

select
    'fct_token_spend' as model_name,
    token_spend_id as row_id,
    'tokens costed at exactly 0, or flag and estimate disagree' as problem,
    estimated_cost_usd
from fact
where (estimated_cost_usd = 0 and total_tokens > 0)
    or (is_unpriced and estimated_cost_usd is not null)
    or (not is_unpriced and estimated_cost_usd is null and total_tokens > 0)
