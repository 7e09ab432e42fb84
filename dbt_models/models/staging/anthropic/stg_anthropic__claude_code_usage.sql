-- One row per landed Claude Code usage row: usage_date x actor x model (x terminal, subscription).
-- An ESTIMATE from Anthropic's Claude Code report, not billing data: it is not part of the billed facts.
with

source as (

    select * from {{ source('raw', 'anthropic_claude_code_usage') }}

),

final as (

    select
        usage_date,
        'anthropic' as provider,
        actor_type,
        lower(trim(actor_email)) as actor_email,
        actor_api_key_name,
        customer_type,
        subscription_type,
        terminal_type,
        coalesce(num_sessions, 0) as session_count,
        coalesce(lines_added, 0) as lines_added,
        coalesce(lines_removed, 0) as lines_removed,
        coalesce(commits, 0) as commit_count,
        coalesce(pull_requests, 0) as pull_request_count,
        lower(trim(model)) as model,
        coalesce(input_tokens, 0) as uncached_input_tokens,
        coalesce(cache_read_tokens, 0) as cache_read_input_tokens,
        -- The report does not split cache writes by TTL: assumed 5-minute writes (as for events).
        coalesce(cache_creation_tokens, 0) as cache_write_5m_input_tokens,
        cast(0 as {{ dbt.type_bigint() }}) as cache_write_1h_input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        {{ cents_to_dollars('trim(estimated_cost_amount)') }} as estimated_cost_usd,
        lower(estimated_cost_currency) as estimated_cost_currency,
        _source_file,
        _loaded_at

    from source

)

select * from final
