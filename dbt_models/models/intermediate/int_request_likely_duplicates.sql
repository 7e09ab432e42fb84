-- Pairs of requests that are probably ONE provider call counted twice: seen by different sources under
-- different request ids, with the same provider, model, API key, time to the millisecond and token
-- counts. Sources that carry the provider's response id (event logs, LiteLLM's response.id,
-- gen_ai.response.id on spans) are merged on it in stg_events__requests; these are the calls where one
-- side lacked it. They are flagged (the likely_duplicate_requests asset check lists them), not merged:
-- two real calls can match on every field, so a person decides (e.g. by logging the response id).
-- Grain: one row per pair (request_id < other_request_id). Both sides of a pair fall on one day (the same
-- millisecond), so the model is incremental by day like the requests it pairs: a build re-pairs the days
-- whose requests changed.
{{ config(**incremental_by_day('raw')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
with

requests as (

    select
        request_id,
        source_system,
        provider,
        model,
        coalesce(api_key_id, '') as api_key_key,
        api_key_id,
        occurred_at,
        {{ dbt.date_trunc('millisecond', 'occurred_at') }} as occurred_at_ms,
        uncached_input_tokens,
        cache_read_input_tokens,
        cache_write_5m_input_tokens,
        output_tokens
    from {{ ref('stg_events__requests') }}
    where {{ in_rebuild_scope('usage_date', 'raw') }}

),

candidate_groups as (

    -- only groups that hold requests of more than one source can hold a cross-source pair
    select provider, model, api_key_key, occurred_at_ms, uncached_input_tokens, cache_read_input_tokens,
        cache_write_5m_input_tokens, output_tokens
    from requests
    group by provider, model, api_key_key, occurred_at_ms, uncached_input_tokens, cache_read_input_tokens,
        cache_write_5m_input_tokens, output_tokens
    having count(distinct source_system) > 1

),

grouped as (

    select requests.*
    from requests
    inner join candidate_groups
        on requests.provider = candidate_groups.provider
        and requests.model = candidate_groups.model
        and requests.api_key_key = candidate_groups.api_key_key
        and requests.occurred_at_ms = candidate_groups.occurred_at_ms
        and requests.uncached_input_tokens = candidate_groups.uncached_input_tokens
        and requests.cache_read_input_tokens = candidate_groups.cache_read_input_tokens
        and requests.cache_write_5m_input_tokens = candidate_groups.cache_write_5m_input_tokens
        and requests.output_tokens = candidate_groups.output_tokens

),

final as (

    select
        a.request_id,
        b.request_id as other_request_id,
        a.source_system,
        b.source_system as other_source_system,
        cast(a.occurred_at as date) as usage_date,
        a.occurred_at,
        a.provider,
        a.model,
        a.api_key_id,
        a.uncached_input_tokens + a.cache_read_input_tokens + a.cache_write_5m_input_tokens + a.output_tokens
            as total_tokens

    from grouped as a
    inner join grouped as b
        on a.provider = b.provider
        and a.model = b.model
        and a.api_key_key = b.api_key_key
        and a.occurred_at_ms = b.occurred_at_ms
        and a.uncached_input_tokens = b.uncached_input_tokens
        and a.cache_read_input_tokens = b.cache_read_input_tokens
        and a.cache_write_5m_input_tokens = b.cache_write_5m_input_tokens
        and a.output_tokens = b.output_tokens
        and a.source_system <> b.source_system
        and a.request_id < b.request_id

)

select * from final
