-- One row per usage_date x dimension (feature, workflow, team) x value: the day's billed cost against
-- a robust trailing baseline of the same value's previous days.
--   baseline    median and median absolute deviation (MAD) of the daily cost over the previous
--               var('anomaly_window_days', 14) calendar days, the day itself excluded
--   threshold   baseline median + var('anomaly_mad_k', 5) x MAD
--   is_anomaly  at least var('anomaly_min_prior_days', 7) prior days, cost above the threshold, and at
--               least var('anomaly_min_excess_usd', '1.00') above the median (so cent-level noise on a
--               tiny or flat series is never an anomaly)
-- Spikes only: a drop in spend is no spend risk, and weekday/weekend rhythm would flag every Saturday.
-- Spend no rule attributes is the value '(unattributed)' (is_attributed false): a jump there is an
-- attribution problem worth seeing. A value's days run from its first day with spend to the last
-- day of the fact; days without spend count as 0.
{%- set window_days = var('anomaly_window_days', 14) | int %}
{%- set min_prior_days = var('anomaly_min_prior_days', 7) | int %}
{%- set mad_k = var('anomaly_mad_k', 5) | string %}
{%- set min_excess_usd = var('anomaly_min_excess_usd', '1.00') | string %}
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

daily as (

    select 'feature' as dimension, coalesce(feature, '(unattributed)') as value, usage_date, sum(cost_usd) as cost_usd
    from spend
    group by 1, 2, 3

    union all

    select 'workflow' as dimension, coalesce(workflow, '(unattributed)') as value, usage_date, sum(cost_usd) as cost_usd
    from spend
    group by 1, 2, 3

    union all

    select 'team' as dimension, coalesce(team, '(unattributed)') as value, usage_date, sum(cost_usd) as cost_usd
    from spend
    group by 1, 2, 3

),

days as (

    select distinct usage_date
    from spend

),

first_days as (

    select dimension, value, min(usage_date) as first_date
    from daily
    group by 1, 2

),

series as (

    -- every day from the value's first day with spend on, 0 where it had none
    select
        first_days.dimension,
        first_days.value,
        days.usage_date,
        coalesce(daily.cost_usd, cast(0 as {{ money_type() }})) as cost_usd

    from first_days
    inner join days
        on days.usage_date >= first_days.first_date
    left join daily
        on first_days.dimension = daily.dimension
        and first_days.value = daily.value
        and days.usage_date = daily.usage_date

),

prior_days as (

    -- each day paired with the same value's days in the trailing window (the day itself excluded)
    select
        series.dimension,
        series.value,
        series.usage_date,
        prior.cost_usd as prior_cost_usd

    from series
    inner join series as prior
        on series.dimension = prior.dimension
        and series.value = prior.value
        and prior.usage_date < series.usage_date
        and prior.usage_date >= cast({{ dbt.dateadd('day', -window_days, 'series.usage_date') }} as date)

),

baseline_median as (

    select
        dimension,
        value,
        usage_date,
        count(*) as prior_days,
        {{ median_of('prior_cost_usd') }} as baseline_median_usd

    from prior_days
    group by 1, 2, 3

),

baseline_mad as (

    select
        prior_days.dimension,
        prior_days.value,
        prior_days.usage_date,
        {{ median_of('abs(prior_days.prior_cost_usd - baseline_median.baseline_median_usd)') }}
            as baseline_mad_usd

    from prior_days
    inner join baseline_median
        on prior_days.dimension = baseline_median.dimension
        and prior_days.value = baseline_median.value
        and prior_days.usage_date = baseline_median.usage_date
    group by 1, 2, 3

),

scored as (

    select
        series.dimension,
        series.value,
        series.usage_date,
        series.cost_usd,
        coalesce(baseline_median.prior_days, 0) as prior_days,
        baseline_median.baseline_median_usd,
        baseline_mad.baseline_mad_usd,
        cast(
            baseline_median.baseline_median_usd
            + {{ decimal_literal(mad_k) }} * baseline_mad.baseline_mad_usd
        as {{ money_type() }}) as threshold_usd

    from series
    left join baseline_median
        on series.dimension = baseline_median.dimension
        and series.value = baseline_median.value
        and series.usage_date = baseline_median.usage_date
    left join baseline_mad
        on series.dimension = baseline_mad.dimension
        and series.value = baseline_mad.value
        and series.usage_date = baseline_mad.usage_date

),

final as (

    select
        {{ surrogate_key(['usage_date', 'dimension', 'value']) }} as spend_anomaly_id,
        usage_date,
        dimension,
        value,
        value <> '(unattributed)' as is_attributed,
        cost_usd,
        prior_days,
        baseline_median_usd,
        baseline_mad_usd,
        threshold_usd,
        cast(cost_usd - baseline_median_usd as {{ money_type() }}) as deviation_usd,
        {{ safe_ratio('cost_usd - baseline_median_usd', 'baseline_mad_usd') }} as mad_score,
        coalesce(
            prior_days >= {{ min_prior_days }}
            and cost_usd > threshold_usd
            and cost_usd - baseline_median_usd >= {{ decimal_literal(min_excess_usd) }},
            false
        ) as is_anomaly

    from scored

)

select * from final
