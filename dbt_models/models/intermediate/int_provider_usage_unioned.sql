-- One row per usage_date x provider x project_id x api_key_id x model x is_batch x service_tier x
-- context_window: both providers' reported token usage in the one token-class vocabulary.
{{ config(**incremental_by_day('raw')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set grain = ['usage_date', 'provider', 'project_id', 'api_key_id', 'model', 'is_batch', 'service_tier', 'context_window'] %}
{%- set measures = ['uncached_input_tokens', 'cache_read_input_tokens', 'cache_write_5m_input_tokens',
                    'cache_write_1h_input_tokens', 'output_tokens', 'request_count', 'web_search_requests'] %}
with

openai_completions as (

    select
        usage_date, provider, project_id, api_key_id, model, is_batch, service_tier,
        cast(null as {{ dbt.type_string() }}) as context_window,
        uncached_input_tokens, cache_read_input_tokens, cache_write_5m_input_tokens,
        cache_write_1h_input_tokens, output_tokens, request_count,
        cast(0 as {{ dbt.type_bigint() }}) as web_search_requests
    from {{ ref('stg_openai__completions_usage') }}
    where {{ in_rebuild_scope('usage_date', 'raw') }}

),

openai_embeddings as (

    select
        usage_date, provider, project_id, api_key_id, model, is_batch, service_tier,
        cast(null as {{ dbt.type_string() }}) as context_window,
        uncached_input_tokens, cache_read_input_tokens, cache_write_5m_input_tokens,
        cache_write_1h_input_tokens, output_tokens, request_count,
        cast(0 as {{ dbt.type_bigint() }}) as web_search_requests
    from {{ ref('stg_openai__embeddings_usage') }}
    where {{ in_rebuild_scope('usage_date', 'raw') }}

),

anthropic_messages as (

    select
        usage_date, provider, project_id, api_key_id, model, is_batch, service_tier,
        context_window,
        uncached_input_tokens, cache_read_input_tokens, cache_write_5m_input_tokens,
        cache_write_1h_input_tokens, output_tokens,
        -- The messages report has no request count.
        cast(0 as {{ dbt.type_bigint() }}) as request_count,
        web_search_requests
    from {{ ref('stg_anthropic__messages_usage') }}
    where {{ in_rebuild_scope('usage_date', 'raw') }}

),

unioned as (

    select * from openai_completions
    union all
    select * from openai_embeddings
    union all
    select * from anthropic_messages

),

aggregated as (

    select
        {{ grain | join(', ') }},
        {% for m in measures -%}
        {{ sum_count(m) }} as {{ m }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from unioned
    group by {{ grain | join(', ') }}

),

final as (

    select
        {{ surrogate_key(grain) }} as usage_id,
        {{ grain | join(', ') }},
        {{ measures | join(', ') }},
        {{ total_tokens() }} as total_tokens

    from aggregated

)

select * from final
