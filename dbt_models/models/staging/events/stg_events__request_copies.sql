-- Every landed copy of every request, from every request-level source, in one shape: one row per
-- event-log line (raw.request_events), LiteLLM spend-log row (stg_litellm__spend_logs) and inference
-- span (stg_otel__spans). The same request can appear several times, from one source or several;
-- stg_events__requests keeps one row per request_id. Tags are as each source wrote them.
-- _source_modified_at is the landed file's modification time: with updated_at, when the producer sends
-- it, it orders deliveries of the same request (the latest delivery wins).
{%- set columns = ['request_id', 'occurred_at', 'provider', 'model', 'api_key_id', 'project_id',
                   'uncached_input_tokens', 'cache_read_input_tokens', 'cache_write_input_tokens', 'output_tokens',
                   'batch', 'service_tier', 'feature', 'workflow', 'task_id', 'team', 'employee_id', 'customer_id',
                   'gateway_team', 'updated_at', 'source_system', 'raw_tags', '_source_file', '_source_line',
                   '_source_modified_at', '_loaded_at'] %}
{#- each source's select list: a column the source does not have is a typed null -#}
{%- set absent = {
    'event_log': ['gateway_team'],
    'litellm': ['updated_at'],
    'otel': ['gateway_team', 'updated_at'],
} %}
{%- set selects = {} %}
{%- for name, missing in absent.items() %}
    {%- set items = [] %}
    {%- for column in columns %}
        {%- if column == 'updated_at' and column in missing %}
            {%- do items.append('cast(null as ' ~ dbt.type_timestamp() ~ ') as updated_at') %}
        {%- elif column in missing %}
            {%- do items.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ column) %}
        {%- else %}
            {%- do items.append(column) %}
        {%- endif %}
    {%- endfor %}
    {%- do selects.update({name: items | join(', ')}) %}
{%- endfor %}
with

event_log as (

    -- also the gateway and span rows that earlier versions landed here, already in this shape
    select {{ selects['event_log'] }}
    from {{ source('raw', 'request_events') }}

),

litellm as (

    select {{ selects['litellm'] }}
    from {{ ref('stg_litellm__spend_logs') }}

),

otel as (

    select {{ selects['otel'] }}
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
