-- One row per landed Anthropic cost report row: usage_date x project_id (workspace) x description
-- (x token_type, service_tier, context_window). amount arrives as a decimal STRING in CENTS.
with

source as (

    select * from {{ source('raw', 'anthropic_cost_report') }}

),

final as (

    select
        cast(bucket_start as date) as usage_date,
        'anthropic' as provider,
        coalesce(workspace_id, 'default') as project_id,
        workspace_id,
        description,
        lower(trim(cost_type)) as cost_type,
        token_type,
        case lower(trim(token_type))
            when 'uncached_input_tokens' then 'uncached_input'
            when 'cache_read_input_tokens' then 'cache_read_input'
            when 'cache_creation.ephemeral_5m_input_tokens' then 'cache_write_5m_input'
            when 'cache_creation.ephemeral_1h_input_tokens' then 'cache_write_1h_input'
            when 'output_tokens' then 'output'
        end as token_class,
        nullif(lower(trim(model)), '') as model,
        coalesce(lower(trim(service_tier)) = 'batch', false) as is_batch,
        {{ normalize_service_tier('service_tier') }} as service_tier,
        nullif(trim(context_window), '') as context_window,
        inference_geo,
        -- "123.45" cents = $1.2345 (Anthropic Admin API, CostReport: amount is in the lowest currency unit).
        {{ cents_to_dollars('trim(amount)') }} as cost_usd,
        lower(currency) as currency,
        _source_file,
        _loaded_at

    from source

)

select * from final
