-- One row per landed LiteLLM spend-log row (raw.litellm_spend_logs): a copy of a request, in
-- tokenspend's terms. LiteLLM's prompt_tokens INCLUDES cache reads and cache writes, so
--   cache_read_input_tokens  = cached_tokens (0 when absent)
--   cache_write_input_tokens = cache_creation_input_tokens (0 when absent)
--   uncached_input_tokens    = prompt_tokens - cache read - cache write (the loader refuses a row
--                              where that would be negative)
-- The provider is custom_llm_provider (its text-completion-openai route bills as openai); a provider
-- prefix the proxy kept on the model id ('anthropic/claude-...') is dropped. Tags and placement come
-- from the caller's spend_logs_metadata; the customer is its customer_id, else LiteLLM's end_user.
-- LiteLLM's own api_key is the hash of ITS virtual key, never a provider key: a gateway row knows the
-- provider key and project only when the caller or the deployment says so (spend_logs_metadata, or
-- `api_key:` / `project:` tags read in stg_events__requests).
-- request_id is the provider's response id (response.id) when LiteLLM logged the response, else
-- LiteLLM's request_id, so a gateway row and a span or event of the same call share one id.
-- gateway_team is LiteLLM's own team of the virtual key (its alias, else its id): an attribution source
-- below the request's tags (int_request_events_attributed).
{%- set metadata_tags = ['feature', 'workflow', 'task_id', 'team', 'employee_id'] %}
with

source as (

    select * from {{ source('raw', 'litellm_spend_logs') }}

),

renamed as (

    select
        coalesce(nullif(trim(response_id), ''), request_id) as request_id,
        request_id as gateway_request_id,
        start_time as occurred_at,
        {{ litellm_provider('custom_llm_provider') }} as provider,
        model as reported_model,
        {{ json_field('spend_logs_metadata', 'api_key_id') }} as api_key_id,
        {{ json_field('spend_logs_metadata', 'project_id') }} as project_id,
        prompt_tokens,
        coalesce(cached_tokens, 0) as cache_read_input_tokens,
        coalesce(cache_creation_input_tokens, 0) as cache_write_input_tokens,
        coalesce(completion_tokens, 0) as output_tokens,
        {% for tag in metadata_tags -%}
        {{ json_field('spend_logs_metadata', tag) }} as {{ tag }},
        {% endfor -%}
        coalesce({{ json_field('spend_logs_metadata', 'customer_id') }}, nullif(trim(end_user), '')) as customer_id,
        request_tags as raw_tags,
        coalesce(nullif(trim(team_alias), ''), nullif(trim(team_id), '')) as gateway_team,
        nullif(trim(key_alias), '') as gateway_key_alias,
        _source_file,
        _source_line,
        _source_modified_at,
        _loaded_at

    from source

),

final as (

    select
        request_id,
        gateway_request_id,
        occurred_at,
        provider,
        case
            when lower(reported_model) like {{ dbt.concat(['provider', "'/%'"]) }}
                then substr(reported_model, {{ dbt.length('provider') }} + 2)
            else reported_model
        end as model,
        api_key_id,
        project_id,
        prompt_tokens - cache_read_input_tokens - cache_write_input_tokens as uncached_input_tokens,
        cache_read_input_tokens,
        cache_write_input_tokens,
        output_tokens,
        false as batch,
        cast(null as {{ dbt.type_string() }}) as service_tier,
        {% for tag in metadata_tags -%}
        {{ tag }},
        {% endfor -%}
        customer_id,
        gateway_team,
        gateway_key_alias,
        'litellm' as source_system,
        raw_tags,
        _source_file,
        _source_line,
        _source_modified_at,
        _loaded_at

    from renamed

)

select * from final
