-- One row per usage_date x provider x api_key_id x project_id that has untagged spend (fact rows whose
-- attribution_method is 'untagged': no tag, no key owner, no project owner). Ranks the offenders of
-- each day and provider, with that day's totals for context.
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

key_names as (

    -- the most recent name a key had in api_key_owners, in force or not
    select
        lower(trim(provider)) as provider,
        trim(api_key_id) as api_key_id,
        key_name,
        row_number() over (
            partition by lower(trim(provider)), trim(api_key_id) order by valid_from desc
        ) as name_rank
    from {{ ref('api_key_owners') }}

),

project_names as (

    select
        lower(trim(provider)) as provider,
        trim(project_id) as project_id,
        project_name,
        row_number() over (
            partition by lower(trim(provider)), trim(project_id) order by valid_from desc
        ) as name_rank
    from {{ ref('project_owners') }}

),

day_totals as (

    select
        usage_date,
        provider,
        sum(cost_usd) as day_total_cost_usd,
        sum(case when attribution_method = 'untagged' then cost_usd else 0 end) as day_untagged_cost_usd

    from spend
    group by usage_date, provider

),

untagged as (

    select
        usage_date,
        provider,
        api_key_id,
        project_id,
        sum(cost_usd) as untagged_cost_usd,
        -- a web_search row's request_count is its searches, not model requests
        {{ sum_count("case when record_type = 'web_search' then 0 else request_count end") }} as untagged_request_count,
        {{ sum_count('total_tokens') }} as untagged_tokens

    from spend
    where attribution_method = 'untagged'
    group by usage_date, provider, api_key_id, project_id

),

final as (

    select
        untagged.usage_date,
        untagged.provider,
        untagged.api_key_id,
        untagged.project_id,
        key_names.key_name,
        project_names.project_name,
        untagged.untagged_cost_usd,
        untagged.untagged_request_count,
        untagged.untagged_tokens,
        day_totals.day_total_cost_usd as total_cost_usd,
        day_totals.day_untagged_cost_usd,
        {{ safe_ratio('untagged.untagged_cost_usd', 'day_totals.day_total_cost_usd') }} as untagged_share,
        {{ safe_ratio('day_totals.day_untagged_cost_usd', 'day_totals.day_total_cost_usd') }} as day_untagged_share,
        -- rank() is INT on Spark, BIGINT on DuckDB
        cast(rank() over (
            partition by untagged.usage_date, untagged.provider
            order by untagged.untagged_cost_usd desc
        ) as {{ dbt.type_bigint() }}) as offender_rank

    from untagged
    inner join day_totals  -- every untagged row's day x provider is in day_totals (same source)
        on untagged.usage_date = day_totals.usage_date
        and untagged.provider = day_totals.provider
    left join key_names
        on untagged.provider = key_names.provider
        and untagged.api_key_id = key_names.api_key_id
        and key_names.name_rank = 1
    left join project_names
        on untagged.provider = project_names.provider
        and untagged.project_id = project_names.project_id
        and project_names.name_rank = 1

)

select * from final
