-- The spend-change algebra holds on every row, exactly (DECIMAL, no tolerance): the named effects of
-- mart_spend_change sum to change_usd, and change_usd, prior_cost_usd and cost_usd equal the billed cost
-- of the scope read straight from the fact (so no token class, cell or charge is lost on the way).
-- Returns the rows that break it, and fact scopes with cost in a compared period that the mart lacks (a
-- scope whose cost is 0 in both periods may be absent).
{%- set grains = ['month', 'week'] %}
{%- set dims = ['provider', 'feature', 'workflow', 'team'] %}
with

mart as (

    select * from {{ ref('mart_spend_change') }}

),

fact_periods as (

    {% for grain in grains -%}
    select
        '{{ grain }}' as period_grain,
        cast({{ dbt.date_trunc(grain, 'usage_date') }} as date) as period_start,
        provider,
        coalesce(feature, '(unattributed)') as feature,
        coalesce(workflow, '(unattributed)') as workflow,
        coalesce(team, '(unattributed)') as team,
        sum(cost_usd) as cost_usd
    from {{ ref('fct_token_spend') }}
    group by 1, 2, 3, 4, 5, 6
    {% if not loop.last %}union all
    {% endif -%}
    {% endfor %}

),

compared_periods as (

    select distinct period_grain, period_start, prior_period_start from mart

),

from_fact as (

    select
        compared_periods.period_grain,
        compared_periods.period_start,
        {% for d in dims -%}
        fact_periods.{{ d }},
        {% endfor -%}
        sum(case when fact_periods.period_start = compared_periods.prior_period_start
                 then fact_periods.cost_usd else 0 end) as prior_cost_usd,
        sum(case when fact_periods.period_start = compared_periods.period_start
                 then fact_periods.cost_usd else 0 end) as cost_usd
    from compared_periods
    inner join fact_periods
        on fact_periods.period_grain = compared_periods.period_grain
        and (fact_periods.period_start = compared_periods.period_start
             or fact_periods.period_start = compared_periods.prior_period_start)
    group by 1, 2, 3, 4, 5, 6

),

checked as (

    select
        coalesce(mart.period_grain, from_fact.period_grain) as period_grain,
        coalesce(mart.period_start, from_fact.period_start) as period_start,
        {% for d in dims -%}
        coalesce(mart.{{ d }}, from_fact.{{ d }}) as {{ d }},
        {% endfor -%}
        mart.change_usd,
        mart.volume_effect_usd + mart.model_mix_effect_usd + mart.batch_share_effect_usd
            + mart.output_share_effect_usd + mart.cache_effect_usd + mart.unit_price_effect_usd
            + mart.new_scope_usd + mart.gone_scope_usd + mart.other_charges_effect_usd as effects_usd,
        mart.prior_cost_usd as mart_prior_cost_usd,
        mart.cost_usd as mart_cost_usd,
        from_fact.prior_cost_usd as fact_prior_cost_usd,
        from_fact.cost_usd as fact_cost_usd

    from mart
    full outer join from_fact
        on mart.period_grain = from_fact.period_grain
        and mart.period_start = from_fact.period_start
        {% for d in dims -%}
        and mart.{{ d }} = from_fact.{{ d }}
        {% endfor %}

)

select *
from checked
where (change_usd is null and (fact_cost_usd <> 0 or fact_prior_cost_usd <> 0))
    or effects_usd <> change_usd
    or change_usd <> mart_cost_usd - mart_prior_cost_usd
    or (fact_cost_usd is not null and (mart_cost_usd <> fact_cost_usd or mart_prior_cost_usd <> fact_prior_cost_usd))
