-- The attributed spend by token class: one row per row of the fact (int_spend_allocated, keyed by the
-- fact's token_spend_id) and token class with tokens, and one row (token_class null, token_kind 'other')
-- per fact row with no tokens (web search, a bill line with no usage). The one split of billed cost over
-- token classes: mart_spend_change, mart_cache_batch_levers and the FOCUS export read it.
--
-- Billed cost: a row's cost_usd is shared over its classes by list value (tokens x the class's price in
-- force that day) when every class with tokens has a price, else by tokens. Shares are rounded to 9
-- decimals and the remainder goes to the class with the largest weight (the first in token_classes()
-- order on a tie), so the classes of a row sum EXACTLY to its cost_usd, hence to the bill.
-- Estimate: the row's estimated_cost_usd (each request at the price of its own tier and context window)
-- is split by the same weights and rule (a row the day's standard prices explain exactly: tokens x price
-- per class); null when the row is unpriced, never 0.
-- Prices: the fact has no service tier or context window, so a row takes its model's prices of the day
-- for the standard tier and the 'all' window when those were seen, else the first other key
-- (int_prices_resolved keys, ordered); null when the model is unpriced. With each class: the same
-- model's uncached input price (what a cached or written token costs uncached) and the class's price
-- without and with the batch multiplier (the batch lever).
-- Incremental by day, like the fact.
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set classes = token_classes() %}
{%- set carried = ['token_spend_id', 'usage_date', 'provider', 'project_id', 'api_key_id', 'model', 'model_key',
                   'is_batch', 'feature', 'workflow', 'team', 'employee_id', 'customer_id', 'attribution_method',
                   'record_type', 'request_count', 'is_unpriced'] %}
with

allocated as (

    select
        {{ surrogate_key(fact_grain()) }} as token_spend_id,
        *
    from {{ ref('int_spend_allocated') }}
    where {{ in_rebuild_scope('usage_date') }}

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

-- per row: its prices of the day, the weight its classes share its cost by, and whether the day's
-- standard prices explain its estimate exactly
priced as (

    select
        allocated.*,
        {% for c in classes -%}
        day_prices.{{ c }}_usd_per_million,
        day_prices.{{ c }}_unbatched_usd_per_million,
        day_prices.{{ c }}_batched_usd_per_million,
        {% endfor -%}
        day_prices.priced_model is not null
        {%- for c in classes %}
            and (allocated.{{ c }}_tokens = 0 or day_prices.{{ c }}_usd_per_million is not null)
        {%- endfor %} as has_class_prices,
        ({% for c in classes %}allocated.{{ c }}_tokens * coalesce(day_prices.{{ c }}_usd_per_million, 0){% if not loop.last %}
            + {% endif %}{% endfor %}) as list_weight

    from allocated
    left join day_prices
        on allocated.usage_date = day_prices.usage_date
        and allocated.provider = day_prices.provider
        and allocated.model = day_prices.model
        and allocated.is_batch = day_prices.is_batch

),

row_weights as (

    select
        *,
        has_class_prices and list_weight > 0 as by_list_value,
        has_class_prices and list_weight > 0
            and estimated_cost_usd = {{ usd_from_per_million('list_weight') }} as is_book_priced

    from priced

),

class_rows as (

    {% for c in classes -%}
    select
        {{ carried | join(', ') }},
        '{{ c }}' as token_class,
        '{{ 'output' if c == 'output' else 'input' }}' as token_kind,
        {{ loop.index }} as class_order,
        {{ c }}_tokens as tokens,
        {{ c }}_usd_per_million as usd_per_million,
        uncached_input_usd_per_million,
        {{ c }}_unbatched_usd_per_million as unbatched_usd_per_million,
        {{ c }}_batched_usd_per_million as batched_usd_per_million,
        cast(case when by_list_value then {{ c }}_tokens * {{ c }}_usd_per_million else {{ c }}_tokens end
            as {{ money_type() }}) as split_weight,
        cast(case when by_list_value then list_weight else total_tokens end as {{ money_type() }}) as row_weight,
        is_book_priced,
        cost_usd as row_cost_usd,
        estimated_cost_usd as row_estimated_cost_usd
    from row_weights
    where {{ c }}_tokens <> 0

    union all

    {% endfor -%}
    select
        {{ carried | join(', ') }},
        cast(null as {{ dbt.type_string() }}) as token_class,
        'other' as token_kind,
        0 as class_order,
        cast(0 as {{ dbt.type_bigint() }}) as tokens,
        cast(null as {{ money_type() }}) as usd_per_million,
        cast(null as {{ money_type() }}) as uncached_input_usd_per_million,
        cast(null as {{ money_type() }}) as unbatched_usd_per_million,
        cast(null as {{ money_type() }}) as batched_usd_per_million,
        cast(1 as {{ money_type() }}) as split_weight,
        cast(1 as {{ money_type() }}) as row_weight,
        false as is_book_priced,
        cost_usd as row_cost_usd,
        estimated_cost_usd as row_estimated_cost_usd
    from row_weights
    where total_tokens = 0

),

-- each class's share, rounded to 9 decimals (a class alone in its row takes the row whole; a class of a
-- row the day's standard prices explain is estimated at tokens x price, which is that share exactly)
shared as (

    select
        *,
        case
            when split_weight = row_weight then row_cost_usd
            else {{ divide_money('row_cost_usd * split_weight', 'row_weight') }}
        end as rounded_cost_usd,
        case
            when row_estimated_cost_usd is null then null
            when split_weight = row_weight then row_estimated_cost_usd
            when is_book_priced then {{ usd_from_per_million('tokens * usd_per_million') }}
            else {{ divide_money('row_estimated_cost_usd * split_weight', 'row_weight') }}
        end as rounded_estimate_usd,
        row_number() over (partition by token_spend_id order by split_weight desc, class_order) as weight_rank

    from class_rows

),

-- the rounding remainders go to the class with the largest weight
final as (

    select
        {{ carried | join(', ') }},
        token_class,
        token_kind,
        cast(tokens as {{ dbt.type_bigint() }}) as tokens,
        cast(
            rounded_cost_usd
            + case
                when weight_rank = 1 then row_cost_usd - sum(rounded_cost_usd) over (partition by token_spend_id)
                else 0
            end
        as {{ money_type() }}) as cost_usd,
        cast(
            rounded_estimate_usd
            + case
                when weight_rank = 1
                    then row_estimated_cost_usd - sum(rounded_estimate_usd) over (partition by token_spend_id)
                else 0
            end
        as {{ money_type() }}) as estimated_cost_usd,
        usd_per_million,
        uncached_input_usd_per_million,
        unbatched_usd_per_million,
        batched_usd_per_million,
        is_book_priced

    from shared

)

select * from final
