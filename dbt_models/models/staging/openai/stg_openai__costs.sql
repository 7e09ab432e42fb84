-- One row per landed OpenAI cost row: usage_date x project_id x api_key_id x line_item.
-- amount_value is already DOLLARS (as JSON text); it is cast to DECIMAL, never through a float.
with

source as (

    select * from {{ source('raw', 'openai_costs') }}

),

renamed as (

    select
        cast(bucket_start as date) as usage_date,
        'openai' as provider,
        project_id,
        api_key_id,
        line_item,
        trim(line_item) as trimmed_line_item,
        cast(trim(amount_value) as {{ money_type() }}) as cost_usd,
        lower(amount_currency) as currency,
        quantity,
        _source_file,
        _loaded_at

    from source

),

parsed as (

    select
        *,
        -- The line_item vocabulary is undocumented: "gpt-4.1-2025-04-14, input" names a model before
        -- the first comma; "Image models" (no comma) names none.
        case
            when {{ dbt.position("','", 'trimmed_line_item') }} > 1
                then nullif(lower(trim({{ dbt.split_part('trimmed_line_item', "','", 1) }})), '')
        end as model,
        case
            when {{ dbt.position("','", 'trimmed_line_item') }} > 0
                then nullif(lower(trim({{ dbt.split_part('trimmed_line_item', "','", 2) }})), '')
        end as line_item_detail

    from renamed

),

final as (

    select
        usage_date,
        provider,
        project_id,
        api_key_id,
        line_item,
        model,
        line_item_detail,
        -- OpenAI does not split batch costs by a field; a line item that says "batch" is batch.
        coalesce(line_item_detail like '%batch%', false) as is_batch,
        cost_usd,
        currency,
        quantity,
        _source_file,
        _loaded_at

    from parsed

)

select * from final
