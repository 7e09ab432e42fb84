-- Every landed copy of every request, from every request-level source, in one shape: one row per
-- event-log line (raw.request_events), LiteLLM spend-log row (stg_litellm__spend_logs) and inference
-- span (stg_otel__spans). The same request can appear several times, from one source or several;
-- stg_events__requests keeps one row per request_id. Tags are as each source wrote them.
{%- set columns = ['request_id', 'occurred_at', 'provider', 'model', 'api_key_id', 'project_id',
                   'uncached_input_tokens', 'cache_read_input_tokens', 'cache_write_input_tokens', 'output_tokens',
                   'batch', 'service_tier', 'feature', 'workflow', 'task_id', 'team', 'employee_id', 'customer_id',
                   'source_system', 'raw_tags', '_source_file', '_source_line', '_loaded_at'] %}
with

event_log as (

    -- also the gateway and span rows that earlier versions landed here, already in this shape
    select {{ columns | join(', ') }}
    from {{ source('raw', 'request_events') }}

),

litellm as (

    select {{ columns | join(', ') }}
    from {{ ref('stg_litellm__spend_logs') }}

),

otel as (

    select {{ columns | join(', ') }}
    from {{ ref('stg_otel__spans') }}

),

final as (

    select * from event_log
    union all
    select * from litellm
    union all
    select * from otel

)

select * from final
