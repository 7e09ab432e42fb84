-- One row per landed OpenAI completions usage row: usage_date x project_id x user_id x api_key_id x
-- model x is_batch x service_tier. Converts OpenAI's INCLUSIVE input count into the disjoint classes.
with

source as (

    select * from {{ source('raw', 'openai_usage_completions') }}

),

renamed as (

    select
        cast(bucket_start as date) as usage_date,
        'openai' as provider,
        project_id,
        user_id,
        api_key_id,
        lower(trim(model)) as model,
        coalesce(batch, false) as is_batch,
        {{ normalize_service_tier('service_tier') }} as service_tier,
        coalesce(input_tokens, 0) as reported_input_tokens,
        input_uncached_tokens as reported_uncached_input_tokens,
        coalesce(input_cached_tokens, 0) as cache_read_input_tokens,
        coalesce(input_cache_write_tokens, 0) as cache_write_5m_input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(num_model_requests, 0) as request_count,
        _source_file,
        _loaded_at

    from source

),

token_classes as (

    select
        *,
        -- input_tokens includes cached and cache-write tokens (OpenAI organization usage API), so the
        -- uncached class is the difference. The provider's own uncached figure wins when present;
        -- assert_openai_input_token_classes_consistent checks that both agree.
        reported_input_tokens - cache_read_input_tokens - cache_write_5m_input_tokens
            as derived_uncached_input_tokens

    from renamed

),

final as (

    select
        usage_date,
        provider,
        project_id,
        user_id,
        api_key_id,
        model,
        is_batch,
        service_tier,
        coalesce(reported_uncached_input_tokens, derived_uncached_input_tokens) as uncached_input_tokens,
        cache_read_input_tokens,
        cache_write_5m_input_tokens,
        -- OpenAI does not split cache writes by TTL; they are all counted as 5-minute writes.
        cast(0 as {{ dbt.type_bigint() }}) as cache_write_1h_input_tokens,
        output_tokens,
        request_count,
        reported_input_tokens,
        reported_uncached_input_tokens,
        derived_uncached_input_tokens,
        _source_file,
        _loaded_at

    from token_classes

)

select * from final
