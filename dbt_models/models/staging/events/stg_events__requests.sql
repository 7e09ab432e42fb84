-- One row per request_id. The same request can be landed twice (a re-sent file, two sinks): the
-- EARLIEST loaded copy is kept (ties: file name, then line), so a re-load never changes the answer.
with

source as (

    select * from {{ source('raw', 'request_events') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by request_id
            order by _loaded_at, _source_file, _source_line
        ) as load_rank

    from source

),

deduplicated as (

    select * from ranked where load_rank = 1

),

renamed as (

    select
        request_id,
        occurred_at,
        cast(occurred_at as date) as usage_date,
        lower(trim(provider)) as provider,
        lower(trim(model)) as model,
        api_key_id,
        project_id,
        coalesce(uncached_input_tokens, 0) as uncached_input_tokens,
        coalesce(cache_read_input_tokens, 0) as cache_read_input_tokens,
        -- The event log has one cache-write class with no TTL. Assumption: 5-minute writes (the
        -- default TTL of both providers). A 1-hour write costs more, so such requests are under-
        -- estimated; billed cost is unaffected (it comes from the provider).
        coalesce(cache_write_input_tokens, 0) as cache_write_5m_input_tokens,
        cast(0 as {{ dbt.type_bigint() }}) as cache_write_1h_input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(batch, false) as is_batch,
        {{ normalize_service_tier('service_tier') }} as service_tier,
        {{ normalize_tag('feature') }} as feature,
        {{ normalize_tag('workflow') }} as workflow,
        {{ normalize_tag('task_id') }} as task_id,
        {{ normalize_tag('team') }} as team,
        {{ normalize_tag('employee_id') }} as employee_id,
        {{ normalize_tag('customer_id') }} as customer_id,
        source_system,
        _source_file,
        _source_line,
        _loaded_at

    from deduplicated

),

final as (

    select
        request_id,
        occurred_at,
        usage_date,
        provider,
        model,
        api_key_id,
        -- as logged; a missing project is placed from the key in int_api_key_projects, never guessed
        project_id,
        uncached_input_tokens,
        cache_read_input_tokens,
        cache_write_5m_input_tokens,
        cache_write_1h_input_tokens,
        output_tokens,
        {{ total_tokens() }} as total_tokens,
        is_batch,
        service_tier,
        feature,
        workflow,
        task_id,
        team,
        employee_id,
        customer_id,
        source_system,
        _source_file,
        _source_line,
        _loaded_at

    from renamed

)

select * from final
