-- OpenAI's input_tokens INCLUDES cached and cache-write tokens. Where the provider also sends
-- input_uncached_tokens, it must equal input_tokens - cached - cache_write; and no derived class may
-- be negative. Returns the inconsistent usage rows.
select
    usage_date,
    project_id,
    api_key_id,
    model,
    reported_input_tokens,
    reported_uncached_input_tokens,
    derived_uncached_input_tokens,
    cache_read_input_tokens,
    cache_write_5m_input_tokens

from {{ ref('stg_openai__completions_usage') }}
where (reported_uncached_input_tokens is not null
        and reported_uncached_input_tokens <> derived_uncached_input_tokens)
    or uncached_input_tokens < 0
