-- One row per usage_date x provider x project_id x api_key_id x model x is_batch x feature x workflow x
-- team x employee_id x customer_id x attribution_method x record_type (request, unlogged_residual,
-- console, web_search, unmatched_billed). Only request rows carry a customer_id.
-- For every usage_date x provider, sum(cost_usd) equals the provider-reported cost exactly.
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set grain = fact_grain() %}
with

allocated as (

    select * from {{ ref('int_spend_allocated') }}
    where {{ in_rebuild_scope('usage_date') }}

),

final as (

    select
        {{ surrogate_key(grain) }} as token_spend_id,
        usage_date,
        provider,
        project_id,
        api_key_id,
        model,
        model_key,
        is_batch,
        feature,
        workflow,
        team,
        employee_id,
        customer_id,
        attribution_method,
        record_type,
        request_count,
        {% for c in token_classes() -%}
        {{ c }}_tokens,
        {% endfor -%}
        total_tokens,
        estimated_cost_usd,
        is_unpriced,
        cost_usd,
        allocation_basis

    from allocated

)

select * from final
