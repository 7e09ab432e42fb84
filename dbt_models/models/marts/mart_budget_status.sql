-- One row per budget scope (scope_type x scope) x period (calendar month, period_start = first day)
-- for every month the warehouse has spend for and a budget row (seeds/budgets.csv) is in force on the
-- month's first day. Spend is billed cost (fct_token_spend.cost_usd) attributed to the scope.
-- "As of" is the latest usage_date in the fact, not the wall clock, so a rebuild is reproducible:
--   days_elapsed            days of the month up to the as-of date (all of them for a closed month)
--   forecast_month_end_usd  linear run-rate: spend_to_date_usd * days_in_month / days_elapsed
--   status                  breached (spend > budget), at_risk (forecast > budget), else ok
--   action                  enforce_cap (hard_cap and breached), alert (any other at_risk/breached), none
-- A soft budget (production) only ever alerts; a hard cap is only allowed on non-production scopes
-- (singular test assert_no_hard_cap_on_production) and is exported to the gateway by Dagster.
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

budgets as (

    select
        lower(trim(scope_type)) as scope_type,
        {{ normalize_tag('scope') }} as scope,
        monthly_budget_usd,
        lower(trim(policy)) as policy,
        owner,
        valid_from,
        valid_to
    from {{ ref('budgets') }}

),

features as (

    select {{ normalize_tag('feature') }} as feature, is_production
    from {{ ref('features') }}

),

workflows as (

    select {{ normalize_tag('workflow') }} as workflow, is_production
    from {{ ref('workflows') }}

),

as_of as (

    select max(usage_date) as as_of_date
    from spend

),

periods as (

    -- the months the warehouse has spend for, with their length and the days elapsed by the as-of date
    select
        months.period_start,
        as_of.as_of_date,
        -- day counts as BIGINT on every engine (Spark's datediff returns INT)
        cast({{ dbt.datediff('months.period_start', dbt.dateadd('month', 1, 'months.period_start'), 'day') }}
            as {{ dbt.type_bigint() }}) as days_in_month,
        cast(case
            when as_of.as_of_date >= cast({{ dbt.dateadd('month', 1, 'months.period_start') }} as date)
                then {{ dbt.datediff('months.period_start', dbt.dateadd('month', 1, 'months.period_start'), 'day') }}
            else {{ dbt.datediff('months.period_start', 'as_of.as_of_date', 'day') }} + 1
        end as {{ dbt.type_bigint() }}) as days_elapsed,
        months.period_start = cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date) as is_current_period

    from (
        select distinct cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start
        from spend
    ) as months
    cross join as_of

),

scope_spend as (

    -- billed spend per scope and month; a fact row counts once for each of its dimensions
    select
        'feature' as scope_type,
        feature as scope,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start,
        sum(cost_usd) as spend_usd
    from spend
    where feature is not null
    group by 1, 2, 3

    union all

    select
        'workflow' as scope_type,
        workflow as scope,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start,
        sum(cost_usd) as spend_usd
    from spend
    where workflow is not null
    group by 1, 2, 3

    union all

    select
        'team' as scope_type,
        team as scope,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start,
        sum(cost_usd) as spend_usd
    from spend
    where team is not null
    group by 1, 2, 3

),

budget_periods as (

    -- the budget row in force on the first day of each month (budgets change on month boundaries)
    select
        budgets.scope_type,
        budgets.scope,
        budgets.policy,
        budgets.owner,
        budgets.monthly_budget_usd,
        periods.period_start,
        periods.as_of_date,
        periods.days_in_month,
        periods.days_elapsed,
        periods.is_current_period,
        case budgets.scope_type
            when 'feature' then features.is_production
            when 'workflow' then workflows.is_production
        end as is_production

    from budgets
    inner join periods
        on {{ effective_on('periods.period_start', 'budgets') }}
    left join features
        on budgets.scope_type = 'feature'
        and budgets.scope = features.feature
    left join workflows
        on budgets.scope_type = 'workflow'
        and budgets.scope = workflows.workflow

),

measured as (

    select
        budget_periods.*,
        coalesce(scope_spend.spend_usd, cast(0 as {{ money_type() }})) as spend_to_date_usd

    from budget_periods
    left join scope_spend
        on budget_periods.scope_type = scope_spend.scope_type
        and budget_periods.scope = scope_spend.scope
        and budget_periods.period_start = scope_spend.period_start

),

forecast as (

    select
        measured.*,
        {{ divide_money('measured.spend_to_date_usd * measured.days_in_month', 'measured.days_elapsed') }}
            as forecast_month_end_usd

    from measured

),

final as (

    select
        {{ surrogate_key(['scope_type', 'scope', 'period_start']) }} as budget_status_id,
        scope_type,
        scope,
        period_start,
        as_of_date,
        is_current_period,
        days_elapsed,
        days_in_month,
        policy,
        owner,
        is_production,
        cast(monthly_budget_usd as {{ money_type() }}) as monthly_budget_usd,
        spend_to_date_usd,
        cast(monthly_budget_usd - spend_to_date_usd as {{ money_type() }}) as remaining_usd,
        forecast_month_end_usd,
        {{ safe_ratio('spend_to_date_usd', 'monthly_budget_usd') }} as share_of_budget,
        {{ safe_ratio('forecast_month_end_usd', 'monthly_budget_usd') }} as forecast_share,
        case
            when spend_to_date_usd > monthly_budget_usd then 'breached'
            when forecast_month_end_usd > monthly_budget_usd then 'at_risk'
            else 'ok'
        end as status,
        case
            when policy = 'hard_cap' and spend_to_date_usd > monthly_budget_usd then 'enforce_cap'
            when forecast_month_end_usd > monthly_budget_usd then 'alert'
            else 'none'
        end as action

    from forecast

)

select * from final
