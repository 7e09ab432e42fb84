-- One row per feature x period (calendar month, period_start = first day). Spend no rule could
-- attribute to a feature is kept as feature '(unattributed)' (is_attributed = false), so the mart
-- sums to the billed total.
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

requests as (

    select * from {{ ref('int_request_events_attributed') }}

),

features as (

    select
        {{ normalize_tag('feature') }} as feature,
        feature_name,
        {{ normalize_tag('owner_team') }} as owner_team,
        is_production
    from {{ ref('features') }}

),

spend_by_feature as (

    select
        coalesce(feature, '(unattributed)') as feature,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start,
        {{ sum_count("case when record_type = 'request' then request_count else 0 end") }} as requests,
        sum(cost_usd) as cost_usd,
        sum(estimated_cost_usd) as estimated_cost_usd,
        {{ sum_count('total_tokens') }} as total_tokens

    from spend
    group by 1, 2

),

interactions_by_feature as (

    -- an interaction is a task (all the requests of one task_id) or, untasked, a single request
    select
        coalesce(feature, '(unattributed)') as feature,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start,
        count(distinct coalesce(task_id, request_id)) as interactions

    from requests
    group by 1, 2

),

final as (

    select
        spend_by_feature.feature,
        spend_by_feature.period_start,
        spend_by_feature.feature <> '(unattributed)' as is_attributed,
        features.feature_name,
        features.owner_team,
        features.is_production,
        spend_by_feature.requests,
        coalesce(interactions_by_feature.interactions, 0) as interactions,
        spend_by_feature.total_tokens,
        spend_by_feature.cost_usd,
        spend_by_feature.estimated_cost_usd,
        {{ divide_money('spend_by_feature.cost_usd', 'interactions_by_feature.interactions') }}
            as cost_per_interaction_usd

    from spend_by_feature
    left join interactions_by_feature
        on spend_by_feature.feature = interactions_by_feature.feature
        and spend_by_feature.period_start = interactions_by_feature.period_start
    left join features
        on spend_by_feature.feature = features.feature

)

select * from final
