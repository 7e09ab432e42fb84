-- One row per landed Anthropic messages usage row: usage_date x project_id (workspace) x api_key_id x
-- model x service_tier x context_window (x inference_geo, account). Token classes are already disjoint.
with

source as (

    select * from {{ source('raw', 'anthropic_usage_messages') }}

),

final as (

    select
        cast(bucket_start as date) as usage_date,
        'anthropic' as provider,
        -- A null workspace is the default workspace (Anthropic Usage and Cost API).
        coalesce(workspace_id, 'default') as project_id,
        workspace_id,
        api_key_id,
        {{ is_console_usage("'anthropic'", 'api_key_id') }} as is_console_usage,
        account_id,
        service_account_id,
        lower(trim(model)) as model,
        coalesce(lower(trim(service_tier)) = 'batch', false) as is_batch,
        {{ normalize_service_tier('service_tier') }} as service_tier,
        lower(trim(service_tier)) as reported_service_tier,
        nullif(trim(context_window), '') as context_window,
        inference_geo,
        coalesce(uncached_input_tokens, 0) as uncached_input_tokens,
        coalesce(cache_read_input_tokens, 0) as cache_read_input_tokens,
        coalesce(cache_creation_5m_input_tokens, 0) as cache_write_5m_input_tokens,
        coalesce(cache_creation_1h_input_tokens, 0) as cache_write_1h_input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(web_search_requests, 0) as web_search_requests,
        _source_file,
        _loaded_at

    from source

)

select * from final
