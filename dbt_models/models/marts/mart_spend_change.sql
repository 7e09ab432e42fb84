-- Why spend changed: one row per period grain (month, week) x period x provider x feature x workflow x
-- team that had spend in the period or the one before it. The change in billed cost from the prior
-- period is split into named effects that sum EXACTLY to it (docs/spend_change.md has the algebra):
--
--   volume       more or fewer tokens at the prior period's unit cost (same mix, same prices)
--   model_mix    traffic moving between models
--   batch_share  traffic moving in or out of batch, per model
--   output_share the output / input split of each model's tokens
--   cache        the mix of input classes: share served from cache, 5-minute vs 1-hour writes
--   unit_price   the billed cost per token of each class at the current mix (price-book changes, billing
--                against the list)
--   new_scope / gone_scope   token spend of a scope with no tokens in the prior / current period
--   other_charges            cost lines without tokens (web search, code execution)
--
-- Each effect is the step between two counterfactual costs of the scope, replacing one part of the prior
-- period's structure with the current one at a time (volume, then model shares, batch shares, output
-- shares, input-class shares, then unit costs); a part the prior period did not have (a new model,
-- a class first used) takes its current structure and unit cost, so its cost enters through the mix.
-- Only periods whose prior period has data are compared; the first period of each grain has no row.
{%- set grains = ['month', 'week'] %}
{%- set scope = ['period_grain', 'period_start', 'provider', 'feature', 'workflow', 'team'] %}
{%- set effects = ['volume', 'model_mix', 'batch_share', 'output_share', 'cache', 'unit_price',
                   'new_scope', 'gone_scope', 'other_charges'] %}
with

classes as (

    select * from {{ ref('int_spend_token_classes') }}

),

-- every class row once per grain, keyed to its own period (as current) and to the next (as prior)
graded as (

    {% for grain in grains -%}
    select
        '{{ grain }}' as period_grain,
        cast({{ dbt.date_trunc(grain, 'usage_date') }} as date) as period_start,
        cast({{ dbt.dateadd(grain, 1, dbt.date_trunc(grain, 'usage_date')) }} as date) as next_period_start,
        usage_date,
        provider,
        coalesce(feature, '(unattributed)') as feature,
        coalesce(workflow, '(unattributed)') as workflow,
        coalesce(team, '(unattributed)') as team,
        model_key,
        is_batch,
        token_kind,
        token_class,
        tokens,
        cost_usd
    from classes
    {% if not loop.last %}union all
    {% endif -%}
    {% endfor %}

),

periods as (

    select
        period_grain,
        period_start,
        max(next_period_start) as next_period_start,
        min(usage_date) as first_day_with_data,
        max(usage_date) as last_day_with_data
    from graded
    group by period_grain, period_start

),

data_span as (

    select min(usage_date) as first_day, max(usage_date) as last_day from classes

),

-- the compared pairs: a period and the one before it, both with data
pairs as (

    select
        current_period.period_grain,
        current_period.period_start,
        prior_period.period_start as prior_period_start,
        current_period.next_period_start,
        prior_period.period_start >= data_span.first_day
            and {{ dbt.dateadd('day', -1, 'current_period.next_period_start') }} <= data_span.last_day
            as is_complete_comparison

    from periods as current_period
    inner join periods as prior_period
        on current_period.period_grain = prior_period.period_grain
        and current_period.period_start = prior_period.next_period_start
    cross join data_span

),

token_cells as (

    select
        period_grain, period_start, provider, feature, workflow, team,
        model_key, is_batch, token_kind, token_class,
        {{ sum_count('tokens') }} as tokens,
        sum(cost_usd) as cost_usd
    from graded
    where token_kind <> 'other'
    group by
        period_grain, period_start, provider, feature, workflow, team,
        model_key, is_batch, token_kind, token_class

),

-- each token cell of a compared pair, with its prior (q0, c0) and current (q1, c1) tokens and cost
current_cells as (

    select token_cells.*, pairs.period_start as pair_start
    from token_cells
    inner join pairs
        on token_cells.period_grain = pairs.period_grain
        and token_cells.period_start = pairs.period_start

),

prior_cells as (

    select token_cells.*, pairs.period_start as pair_start
    from token_cells
    inner join pairs
        on token_cells.period_grain = pairs.period_grain
        and token_cells.period_start = pairs.prior_period_start

),

cell_pairs as (

    select
        coalesce(current_cells.period_grain, prior_cells.period_grain) as period_grain,
        coalesce(current_cells.pair_start, prior_cells.pair_start) as period_start,
        {% for k in ['provider', 'feature', 'workflow', 'team', 'model_key', 'is_batch', 'token_kind', 'token_class'] -%}
        coalesce(current_cells.{{ k }}, prior_cells.{{ k }}) as {{ k }},
        {% endfor -%}
        coalesce(prior_cells.tokens, 0) as q0,
        coalesce(prior_cells.cost_usd, 0) as c0,
        coalesce(current_cells.tokens, 0) as q1,
        coalesce(current_cells.cost_usd, 0) as c1

    from current_cells
    full outer join prior_cells
        on current_cells.period_grain = prior_cells.period_grain
        and current_cells.pair_start = prior_cells.pair_start
        {%- for k in ['provider', 'feature', 'workflow', 'team', 'model_key', 'is_batch', 'token_class'] %}
        and current_cells.{{ k }} = prior_cells.{{ k }}
        {%- endfor %}

),

-- the counterfactual cost at each level of the mix: sum over the level's groups of the group's current
-- tokens at its prior unit cost (its current cost when the prior period had none of it)
{%- set levels = {
    'scope_level': [],
    'model_level': ['model_key'],
    'batch_level': ['model_key', 'is_batch'],
    'kind_level': ['model_key', 'is_batch', 'token_kind'],
    'class_level': ['model_key', 'is_batch', 'token_kind', 'token_class'],
} %}
{%- for level, keys in levels.items() %}

{{ level }} as (

    select
        {{ scope | join(', ') }},
        {% if keys -%}
        sum({{ counterfactual_cost('q0', 'c0', 'q1', 'c1') }}) as counterfactual_usd
        {%- else -%}
        q0, c0, q1, c1,
        {{ counterfactual_cost('q0', 'c0', 'q1', 'c1') }} as counterfactual_usd
        {%- endif %}
    from (
        select
            {{ (scope + keys) | join(', ') }},
            {{ sum_count('q0') }} as q0, sum(c0) as c0, {{ sum_count('q1') }} as q1, sum(c1) as c1
        from cell_pairs
        group by {{ (scope + keys) | join(', ') }}
    ) as grouped
    {% if keys -%}
    group by {{ scope | join(', ') }}
    {%- endif %}

),
{%- endfor %}

other_pairs as (

    select
        pairs.period_grain,
        pairs.period_start,
        graded.provider, graded.feature, graded.workflow, graded.team,
        sum(case when graded.period_start = pairs.prior_period_start then graded.cost_usd else 0 end) as o0,
        sum(case when graded.period_start = pairs.period_start then graded.cost_usd else 0 end) as o1
    from graded
    inner join pairs
        on graded.period_grain = pairs.period_grain
        and (graded.period_start = pairs.period_start or graded.period_start = pairs.prior_period_start)
    where graded.token_kind = 'other'
    group by pairs.period_grain, pairs.period_start, graded.provider, graded.feature, graded.workflow, graded.team

),

scopes as (

    -- union all + distinct: BigQuery has no bare UNION
    select distinct * from (
        select {{ scope | join(', ') }} from scope_level
        union all
        select {{ scope | join(', ') }} from other_pairs
    ) as unioned

),

effects as (

    select
        scopes.period_grain,
        scopes.period_start,
        pairs.prior_period_start,
        pairs.is_complete_comparison,
        scopes.provider,
        scopes.feature,
        scopes.workflow,
        scopes.team,
        coalesce(scope_level.q0, 0) as prior_tokens,
        coalesce(scope_level.q1, 0) as tokens,
        coalesce(scope_level.c0, 0) as prior_token_cost_usd,
        coalesce(scope_level.c1, 0) as token_cost_usd,
        coalesce(other_pairs.o0, 0) as prior_other_charges_usd,
        coalesce(other_pairs.o1, 0) as other_charges_usd,
        coalesce(scope_level.q0, 0) > 0 and coalesce(scope_level.q1, 0) > 0 as is_compared,
        scope_level.counterfactual_usd as volume_cf,
        model_level.counterfactual_usd as model_cf,
        batch_level.counterfactual_usd as batch_cf,
        kind_level.counterfactual_usd as kind_cf,
        class_level.counterfactual_usd as class_cf

    from scopes
    inner join pairs
        on scopes.period_grain = pairs.period_grain
        and scopes.period_start = pairs.period_start
    {%- for level in ['scope_level', 'model_level', 'batch_level', 'kind_level', 'class_level', 'other_pairs'] %}
    left join {{ level }}
        on {% for k in scope %}scopes.{{ k }} = {{ level }}.{{ k }}{% if not loop.last %}
        and {% endif %}{% endfor %}
    {%- endfor %}

),

final as (

    select
        period_grain,
        period_start,
        prior_period_start,
        is_complete_comparison,
        provider,
        feature,
        workflow,
        team,
        prior_token_cost_usd + prior_other_charges_usd as prior_cost_usd,
        token_cost_usd + other_charges_usd as cost_usd,
        (token_cost_usd + other_charges_usd) - (prior_token_cost_usd + prior_other_charges_usd) as change_usd,
        case when is_compared then volume_cf - prior_token_cost_usd else 0 end as volume_effect_usd,
        case when is_compared then model_cf - volume_cf else 0 end as model_mix_effect_usd,
        case when is_compared then batch_cf - model_cf else 0 end as batch_share_effect_usd,
        case when is_compared then kind_cf - batch_cf else 0 end as output_share_effect_usd,
        case when is_compared then class_cf - kind_cf else 0 end as cache_effect_usd,
        case when is_compared then token_cost_usd - class_cf else 0 end as unit_price_effect_usd,
        case when prior_tokens = 0 then token_cost_usd else 0 end as new_scope_usd,
        case when tokens = 0 then 0 - prior_token_cost_usd else 0 end as gone_scope_usd,
        other_charges_usd - prior_other_charges_usd as other_charges_effect_usd,
        prior_tokens,
        tokens,
        {{ safe_ratio('tokens - prior_tokens', 'prior_tokens') }} as token_growth_ratio,
        {{ divide_money('prior_token_cost_usd * 1000000', 'prior_tokens') }} as prior_usd_per_million_tokens,
        {{ divide_money('token_cost_usd * 1000000', 'tokens') }} as usd_per_million_tokens

    from effects

),

ranked as (

    select
        with_all_effects.*,
        {{ safe_ratio('usd_per_million_tokens - prior_usd_per_million_tokens', 'prior_usd_per_million_tokens') }}
            as unit_cost_change_ratio,
        case
            {%- for e in effects %}
            when {% for o in effects if o != e %}abs({{ e }}_effect_usd) >= abs({{ o }}_effect_usd){% if not loop.last %}
                and {% endif %}{% endfor %}
                then '{{ e }}'
            {%- endfor %}
        end as largest_effect

    from (
        select
            *,
            new_scope_usd as new_scope_effect_usd,
            gone_scope_usd as gone_scope_effect_usd
        from final
    ) as with_all_effects

)

select
    {{ scope[0:2] | join(', ') }},
    prior_period_start, is_complete_comparison, provider, feature, workflow, team,
    prior_cost_usd, cost_usd, change_usd,
    {% for e in effects if e not in ['new_scope', 'gone_scope'] -%}
    {{ e }}_effect_usd,
    {% endfor -%}
    new_scope_usd, gone_scope_usd,
    case when change_usd = 0 then null else largest_effect end as largest_effect,
    prior_tokens, tokens, token_growth_ratio,
    prior_usd_per_million_tokens, usd_per_million_tokens, unit_cost_change_ratio
from ranked
