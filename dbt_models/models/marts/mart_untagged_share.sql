-- One row per usage_date x provider with billed spend: the share of the day's billed cost that no rule
-- could attribute (attribution_method 'untagged': no tag, no key owner, no project owner), days without
-- untagged spend included at 0, beside the same share over every day and provider (the overall_
-- columns, equal on every row). The untagged-share checks read this mart, so they report what BI shows.
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

daily as (

    select
        usage_date,
        provider,
        sum(cost_usd) as total_cost_usd,
        sum(case when attribution_method = 'untagged' then cost_usd else 0 end) as untagged_cost_usd

    from spend
    group by usage_date, provider

),

overall as (

    select
        daily.*,
        sum(total_cost_usd) over () as overall_total_cost_usd,
        sum(untagged_cost_usd) over () as overall_untagged_cost_usd

    from daily

),

final as (

    select
        usage_date,
        provider,
        total_cost_usd,
        untagged_cost_usd,
        {{ safe_ratio('untagged_cost_usd', 'total_cost_usd') }} as untagged_share,
        overall_total_cost_usd,
        overall_untagged_cost_usd,
        {{ safe_ratio('overall_untagged_cost_usd', 'overall_total_cost_usd') }} as overall_untagged_share

    from overall

)

select * from final
