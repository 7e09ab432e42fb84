-- One row per landed OpenAI embeddings usage row: usage_date x project_id x user_id x api_key_id x model.
-- Embedding input is all uncached input; embeddings have no output, batch flag or service tier here.
with

source as (

    select * from {{ source('raw', 'openai_usage_embeddings') }}

),

final as (

    select
        cast(bucket_start as date) as usage_date,
        'openai' as provider,
        project_id,
        user_id,
        api_key_id,
        lower(trim(model)) as model,
        false as is_batch,
        'standard' as service_tier,
        coalesce(input_tokens, 0) as uncached_input_tokens,
        cast(0 as {{ dbt.type_bigint() }}) as cache_read_input_tokens,
        cast(0 as {{ dbt.type_bigint() }}) as cache_write_5m_input_tokens,
        cast(0 as {{ dbt.type_bigint() }}) as cache_write_1h_input_tokens,
        cast(0 as {{ dbt.type_bigint() }}) as output_tokens,
        coalesce(num_model_requests, 0) as request_count,
        _source_file,
        _loaded_at

    from source

)

select * from final
