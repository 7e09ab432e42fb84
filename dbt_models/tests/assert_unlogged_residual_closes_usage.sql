{{ config(meta={'dagster': {'ref': {'name': 'int_spend_units'}}}) }}
-- The unlogged residual is exactly the usage the event log does not explain: per match key
-- (usage_date x provider x project_id x api_key_id x model_key x is_batch) and token class,
-- residual tokens = max(usage tokens - logged tokens, 0), where the 5-minute and 1-hour cache-write
-- classes count as one family (the event log cannot tell them apart). Console usage (no API key) is
-- the same residual, labelled console. Returns the match keys and classes that break it.
{%- set match_key = ['usage_date', 'provider', 'project_id', 'api_key_id', 'model_key', 'is_batch'] %}
with

provider_usage_keyed as (

    select
        provider_usage.usage_date, provider_usage.provider, provider_usage.project_id, provider_usage.api_key_id,
        coalesce(models.model_key, provider_usage.model) as model_key, provider_usage.is_batch,
        {% for c in token_classes() -%}
        provider_usage.{{ c }}_tokens{% if not loop.last %},{% endif %}
        {% endfor %}
    from {{ ref('int_provider_usage_unioned') }} as provider_usage
    left join {{ ref('int_models_resolved') }} as models
        on provider_usage.provider = models.provider
        and provider_usage.model = models.model

),

usage_by_key as (

    select {{ match_key | join(', ') }}, {{ sum_token_classes() }}
    from provider_usage_keyed
    group by {{ match_key | join(', ') }}

),

logged_by_key as (

    select {{ match_key | join(', ') }}, {{ sum_token_classes() }}
    from {{ ref('int_request_events_attributed') }}
    group by {{ match_key | join(', ') }}

),

residual_by_key as (

    select {{ match_key | join(', ') }}, {{ sum_token_classes() }}
    from {{ ref('int_spend_units') }}
    where record_type in ('unlogged_residual', 'console')
    group by {{ match_key | join(', ') }}

),

compared as (

    select
        {% for k in match_key %}usage_by_key.{{ k }}, {% endfor %}
        {% for c in token_classes() -%}
        usage_by_key.{{ c }}_tokens as usage_{{ c }},
        coalesce(logged_by_key.{{ c }}_tokens, 0) as logged_{{ c }},
        coalesce(residual_by_key.{{ c }}_tokens, 0) as residual_{{ c }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from usage_by_key
    left join logged_by_key
        on {{ null_safe_join('usage_by_key', 'logged_by_key', match_key) }}
    left join residual_by_key
        on {{ null_safe_join('usage_by_key', 'residual_by_key', match_key) }}

)

select *
from compared
where
    {% for c in token_classes() if c not in ('cache_write_5m_input', 'cache_write_1h_input') -%}
    residual_{{ c }} <> greatest(usage_{{ c }} - logged_{{ c }}, 0) or
    {% endfor -%}
    residual_cache_write_5m_input + residual_cache_write_1h_input
        <> greatest(usage_cache_write_5m_input + usage_cache_write_1h_input
                    - logged_cache_write_5m_input - logged_cache_write_1h_input, 0)
