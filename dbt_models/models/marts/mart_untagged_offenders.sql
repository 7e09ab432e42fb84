-- One row per provider x api_key_id x project_id with untagged spend over the whole period: who causes
-- the spend no rule can attribute, ranked within the provider and overall, so owners can fix tagging.
with

daily as (

    select * from {{ ref('mart_untagged_spend') }}

),

provider_totals as (

    select
        provider,
        sum(untagged_cost_usd) as provider_untagged_cost_usd

    from daily
    group by provider

),

offenders as (

    select
        provider,
        api_key_id,
        project_id,
        max(key_name) as key_name,
        max(project_name) as project_name,
        min(usage_date) as first_untagged_date,
        max(usage_date) as last_untagged_date,
        count(*) as untagged_days,
        sum(untagged_cost_usd) as untagged_cost_usd,
        {{ sum_count('untagged_request_count') }} as untagged_request_count,
        {{ sum_count('untagged_tokens') }} as untagged_tokens

    from daily
    group by provider, api_key_id, project_id

),

final as (

    select
        offenders.*,
        {{ safe_ratio('offenders.untagged_cost_usd', 'provider_totals.provider_untagged_cost_usd') }}
            as share_of_provider_untagged,
        -- rank() is INT on Spark, BIGINT on DuckDB
        cast(rank() over (partition by offenders.provider order by offenders.untagged_cost_usd desc)
            as {{ dbt.type_bigint() }}) as provider_offender_rank,
        cast(rank() over (order by offenders.untagged_cost_usd desc) as {{ dbt.type_bigint() }}) as offender_rank

    from offenders
    inner join provider_totals  -- same source, every provider is present
        on offenders.provider = provider_totals.provider

)

select * from final
