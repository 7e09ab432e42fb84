-- One row per usage_date x provider x project_id x api_key_id x model x cost line (line item or
-- description, with token class, batch flag, service tier and context window): what each provider
-- billed, in DECIMAL dollars. model is null when the line names no model (code execution, images...).
{{ config(**incremental_by_day('raw')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set grain = ['usage_date', 'provider', 'project_id', 'api_key_id', 'model', 'cost_line', 'cost_type',
                 'token_class', 'is_batch', 'service_tier', 'context_window', 'currency'] %}
with

openai_costs as (

    select
        usage_date,
        provider,
        project_id,
        api_key_id,
        model,
        line_item as cost_line,
        case when model is not null then 'tokens' end as cost_type,
        cast(null as {{ dbt.type_string() }}) as token_class,
        is_batch,
        cast(null as {{ dbt.type_string() }}) as service_tier,
        cast(null as {{ dbt.type_string() }}) as context_window,
        currency,
        cost_usd
    from {{ ref('stg_openai__costs') }}
    where {{ in_rebuild_scope('usage_date', 'raw') }}

),

anthropic_costs as (

    select
        usage_date,
        provider,
        project_id,
        -- The Anthropic cost report cannot be grouped by API key.
        cast(null as {{ dbt.type_string() }}) as api_key_id,
        model,
        description as cost_line,
        cost_type,
        token_class,
        is_batch,
        service_tier,
        context_window,
        currency,
        cost_usd
    from {{ ref('stg_anthropic__costs') }}
    where {{ in_rebuild_scope('usage_date', 'raw') }}

),

unioned as (

    select * from openai_costs
    union all
    select * from anthropic_costs

),

aggregated as (

    select
        {{ grain | join(', ') }},
        sum(cost_usd) as cost_usd
    from unioned
    group by {{ grain | join(', ') }}

),

final as (

    select
        {{ surrogate_key(grain) }} as billed_cost_id,
        {{ grain | join(', ') }},
        cast(cost_usd as {{ money_type() }}) as cost_usd

    from aggregated

)

select * from final
