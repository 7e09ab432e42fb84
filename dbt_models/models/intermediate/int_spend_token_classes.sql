-- One row per row of the attributed spend (int_spend_allocated, the fact's rows, summed over customer_id)
-- and token class with tokens, plus one 'other_charges' row for a row whose cost carries no tokens (web search, code
-- execution, a bill line with no usage): the billed cost of each row split over its token classes, with
-- the list prices the spend-change and lever marts value tokens at.
--
-- Split: a row's billed cost_usd is shared over its classes by list value (tokens x the class's price
-- in force that day) when every class with tokens has a price, else by tokens. Shares are rounded to 9
-- decimals and the rounding remainder goes to the class with the largest weight (the first in
-- token_classes() order on a tie), so the classes of a row sum EXACTLY to its cost_usd.
--
-- Prices: the fact has no service tier or context window, so a row takes its model's prices of the day
-- for the standard tier and the 'all' window when those were seen, else the first other key
-- (int_prices_resolved keys, ordered). Null when the model is unpriced. Incremental by day, like the fact.
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set row_keys = ['usage_date', 'provider', 'project_id', 'api_key_id', 'model', 'model_key', 'is_batch',
                    'feature', 'workflow', 'team', 'employee_id', 'attribution_method', 'record_type'] %}
{%- set classes = token_classes() %}
with

-- the fact's rows summed over customer_id: a row's customers share its classes in the same proportions
spend as (

    select
        {{ row_keys | join(', ') }},
        {{ sum_token_classes() }},
        sum(cost_usd) as cost_usd
    from {{ ref('int_spend_allocated') }}
    where {{ in_rebuild_scope('usage_date') }}
    group by {{ row_keys | join(', ') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}
    where {{ in_rebuild_scope('usage_date') }}

),

day_prices as (

    select * from (
        select
            prices.*,
            row_number() over (
                partition by usage_date, provider, model, is_batch
                order by
                    case when coalesce(service_tier, 'standard') in ('standard', 'default') then 0 else 1 end,
                    case when coalesce(context_window, 'all') = 'all' then 0 else 1 end,
                    service_tier,
                    context_window
            ) as price_rank
        from prices
    ) as ranked
    where price_rank = 1

),

priced as (

    select
        spend.*,
        {% for c in classes -%}
        day_prices.{{ c }}_usd_per_million,
        day_prices.{{ c }}_unbatched_usd_per_million,
        day_prices.{{ c }}_batched_usd_per_million,
        {% endfor -%}
        day_prices.priced_model is not null
        {%- for c in classes %}
            and (coalesce(spend.{{ c }}_tokens, 0) = 0 or day_prices.{{ c }}_usd_per_million is not null)
        {%- endfor %} as has_class_prices

    from spend
    left join day_prices
        on spend.usage_date = day_prices.usage_date
        and spend.provider = day_prices.provider
        and spend.model = day_prices.model
        and spend.is_batch = day_prices.is_batch

),

weighted as (

    select
        *,
        {% for c in classes -%}
        cast(case
            when has_class_prices and {{ class_list_weight('') }} > 0
                then coalesce({{ c }}_tokens, 0) * {{ c }}_usd_per_million
            else coalesce({{ c }}_tokens, 0)
        end as {{ money_type() }}) as {{ c }}_weight{% if not loop.last %},{% endif %}
        {% endfor %}

    from priced

),

shared as (

    select
        *,
        {% for c in classes -%}
        coalesce({{ divide_money('cost_usd * ' ~ c ~ '_weight', class_weight_total()) }}, 0) as {{ c }}_share{% if not loop.last %},{% endif %}
        {% endfor %}

    from weighted

),

split as (

    select
        *,
        cost_usd - ({% for c in classes %}{{ c }}_share{% if not loop.last %} + {% endif %}{% endfor %}) as remainder_usd,
        {% for c in classes -%}
        {%- set earlier = classes[:loop.index0] %}
        {%- set later = classes[loop.index:] %}
        ({{ c }}_weight > 0
            {%- for e in earlier %} and {{ c }}_weight > {{ e }}_weight{% endfor %}
            {%- for l in later %} and {{ c }}_weight >= {{ l }}_weight{% endfor %}) as {{ c }}_takes_remainder{% if not loop.last %},{% endif %}
        {% endfor %}

    from shared

),

final as (

    {% for c in classes -%}
    select
        {{ row_keys | join(', ') }},
        '{{ c }}' as token_class,
        '{{ 'output' if c == 'output' else 'input' }}' as token_kind,
        cast({{ c }}_tokens as {{ dbt.type_bigint() }}) as tokens,
        cast({{ c }}_share + case when {{ c }}_takes_remainder then remainder_usd else 0 end as {{ money_type() }}) as cost_usd,
        not has_class_prices as is_unpriced,
        {{ c }}_usd_per_million as usd_per_million,
        uncached_input_usd_per_million,
        {{ c }}_unbatched_usd_per_million as unbatched_usd_per_million,
        {{ c }}_batched_usd_per_million as batched_usd_per_million
    from split
    where coalesce({{ c }}_tokens, 0) <> 0

    union all

    {% endfor -%}
    select
        {{ row_keys | join(', ') }},
        'other_charges' as token_class,
        'other' as token_kind,
        cast(0 as {{ dbt.type_bigint() }}) as tokens,
        cost_usd,
        not has_class_prices as is_unpriced,
        cast(null as {{ money_type() }}) as usd_per_million,
        cast(null as {{ money_type() }}) as uncached_input_usd_per_million,
        cast(null as {{ money_type() }}) as unbatched_usd_per_million,
        cast(null as {{ money_type() }}) as batched_usd_per_million
    from split
    where {{ class_weight_total() }} = 0 and cost_usd <> 0

)

select * from final
