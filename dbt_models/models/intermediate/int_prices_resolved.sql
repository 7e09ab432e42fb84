-- One row per usage_date x provider x model x service_tier x context_window x is_batch that appears
-- in provider usage or request events: the list price of each token class IN FORCE ON THAT DATE
-- (valid_from <= date < valid_to), in USD per million tokens, batch multiplier already applied; and, for
-- what-if figures (the batch lever), each class's price without and with the batch multiplier whatever
-- the key's is_batch.
--
-- Price choice per token class: the model's priced_model (int_models_resolved); a row of the exact
-- service tier, else the 'standard' row (an unknown tier such as flex is priced as standard); a row of
-- the exact context window, else the 'all' row; if several remain, the latest valid_from. The tier
-- is preferred over the context window: priority traffic above 200k takes the priority 'all' row when
-- the book has no priority long-context row. A class with no row in force has a null price.
--
-- Request events carry no context window: an Anthropic request whose input (uncached + cache read +
-- cache writes) exceeds 200,000 tokens is keyed '200k-1M' (Anthropic's long-context rule), any other
-- request null (the 'all' row). int_request_events_attributed derives the same key in its pricing
-- join, and int_reconciliation_groups in its event pricing.
{%- set key = ['usage_date', 'provider', 'model', 'service_tier', 'context_window', 'is_batch'] %}
with

usage_keys as (

    select distinct usage_date, provider, model, service_tier, context_window, is_batch
    from {{ ref('int_provider_usage_unioned') }}

),

event_keys as (

    select distinct
        usage_date, provider, model, service_tier,
        {{ event_context_window() }} as context_window,
        is_batch
    from {{ ref('stg_events__requests') }}

),

pricing_keys as (

    -- union all + distinct: BigQuery has no bare UNION
    select distinct * from (
        select * from usage_keys
        union all
        select * from event_keys
    ) as unioned

),

models as (

    select * from {{ ref('int_models_resolved') }}

),

price_book as (

    -- price_book.csv, and the generated rows of the models it does not price (macros/price_book.sql)
    {{ effective_price_book() }}

),

keyed as (

    select
        pricing_keys.*,
        models.priced_model,
        models.model_key

    from pricing_keys
    left join models
        on pricing_keys.provider = models.provider
        and pricing_keys.model = models.model

),

candidates as (

    select
        keyed.*,
        price_book.token_class,
        price_book.usd_per_million_tokens,
        price_book.batch_multiplier,
        row_number() over (
            partition by
                keyed.usage_date, keyed.provider, keyed.model, keyed.service_tier, keyed.context_window,
                keyed.is_batch, price_book.token_class
            order by {{ price_row_preference('keyed', 'price_book') }}
        ) as price_rank

    from keyed
    left join price_book
        on keyed.provider = price_book.provider
        and keyed.priced_model = price_book.priced_model
        and {{ price_row_applies('keyed', 'price_book') }}

),

chosen as (

    select
        *,
        cast(
            usd_per_million_tokens * case when is_batch then batch_multiplier else 1 end
        as {{ money_type() }}) as effective_usd_per_million,
        cast(usd_per_million_tokens * coalesce(batch_multiplier, 1) as {{ money_type() }}) as batched_usd_per_million

    from candidates
    where price_rank = 1

),

final as (

    select
        usage_date,
        provider,
        model,
        service_tier,
        context_window,
        is_batch,
        priced_model,
        model_key,
        {% for c in token_classes() -%}
        max(case when token_class = '{{ c }}' then effective_usd_per_million end) as {{ c }}_usd_per_million,
        {% endfor -%}
        {% for c in token_classes() -%}
        max(case when token_class = '{{ c }}' then cast(usd_per_million_tokens as {{ money_type() }}) end)
            as {{ c }}_unbatched_usd_per_million,
        max(case when token_class = '{{ c }}' then batched_usd_per_million end) as {{ c }}_batched_usd_per_million,
        {% endfor -%}
        max(case when token_class is not null then 1 else 0 end) = 1 as has_price_in_force

    from chosen
    group by {{ key | join(', ') }}, priced_model, model_key

)

select * from final
