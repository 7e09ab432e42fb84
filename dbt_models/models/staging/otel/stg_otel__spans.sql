-- One row per landed OpenTelemetry GenAI inference span (raw.otel_spans): a copy of a request, in
-- tokenspend's terms (OpenTelemetry GenAI semantic conventions).
--   request_id   gen_ai.response.id (the provider's id, shared with gateways and event logs), else
--                traceId:spanId
--   model        gen_ai.response.model, else gen_ai.request.model
--   tokens       gen_ai.usage.input_tokens INCLUDES cache_read.input_tokens and
--                cache_creation.input_tokens: uncached = input - both (the loader refuses a span where
--                that would be negative)
--   tags         the span's attributes, then its resource's, named by otel_tag_map()
--                (TOKENSPEND_OTEL_TAG_MAP): for each dimension the first mapped attribute the span
--                carries wins, a span attribute before the same attribute on the resource
{%- set mapping = otel_tag_map() %}
{%- set dimensions = ['feature', 'workflow', 'task_id', 'team', 'employee_id', 'customer_id', 'project_id', 'api_key_id'] %}
with

source as (

    select * from {{ source('raw', 'otel_spans') }}

),

final as (

    select
        coalesce(response_id, {{ dbt.concat(['trace_id', "':'", 'span_id']) }}) as request_id,
        start_time as occurred_at,
        lower(trim(provider_name)) as provider,
        coalesce(response_model, request_model) as model,
        input_tokens - coalesce(cache_read_input_tokens, 0) - coalesce(cache_creation_input_tokens, 0)
            as uncached_input_tokens,
        coalesce(cache_read_input_tokens, 0) as cache_read_input_tokens,
        coalesce(cache_creation_input_tokens, 0) as cache_write_input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        false as batch,
        service_tier,
        {% for dim in dimensions -%}
        {%- set attributes = mapping | selectattr(1, 'equalto', dim) | map(attribute=0) | list -%}
        {%- if attributes -%}
        coalesce(
            {%- for a in attributes %}{{ json_field('span_attributes', a) }}, {% endfor -%}
            {%- for a in attributes %}{{ json_field('resource_attributes', a) }}{% if not loop.last %}, {% endif %}{% endfor -%}
        ) as {{ dim }},
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as {{ dim }},
        {%- endif %}
        {% endfor -%}
        'otel' as source_system,
        cast(null as {{ dbt.type_string() }}) as raw_tags,
        _source_file,
        _source_line,
        _source_modified_at,
        _loaded_at

    from source

)

select * from final
