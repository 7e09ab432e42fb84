-- One row per pricing key of int_prices_resolved (usage_date x provider x model x service_tier x
-- context_window x is_batch): the PRICE DATABASE's price of each token class in force that day, in
-- USD per million tokens, batch multiplier applied, from price_book_generated.csv alone (`make prices`),
-- whichever file prices the traffic. It is the other side of the cross-check (mart_price_crosscheck).
--
-- The generated rows carry one exact model id each (match_pattern = the id), so they are joined on
-- the id; tier, context window and date follow the price book's own rule (macros/price_book.sql:
-- price_row_applies, price_row_preference). A class with no row in force has a null price; a model the
-- database does not know has database_model null.
{%- set key = ['usage_date', 'provider', 'model', 'service_tier', 'context_window', 'is_batch'] %}
with

pricing_keys as (

    select {{ key | join(', ') }}
    from {{ ref('int_prices_resolved') }}

),

price_database as (

    {{ price_book_rows('price_book_generated', 'price_database') }}

),

candidates as (

    select
        pricing_keys.*,
        price_database.priced_model as database_model,
        price_database.token_class,
        price_database.usd_per_million_tokens,
        price_database.batch_multiplier,
        row_number() over (
            partition by
                pricing_keys.usage_date, pricing_keys.provider, pricing_keys.model, pricing_keys.service_tier,
                pricing_keys.context_window, pricing_keys.is_batch, price_database.token_class
            order by {{ price_row_preference('pricing_keys', 'price_database') }}
        ) as price_rank

    from pricing_keys
    left join price_database
        on pricing_keys.provider = price_database.provider
        and lower(pricing_keys.model) = price_database.match_pattern
        and {{ price_row_applies('pricing_keys', 'price_database') }}

),

chosen as (

    select
        *,
        cast(
            usd_per_million_tokens * case when is_batch then batch_multiplier else 1 end
        as {{ money_type() }}) as effective_usd_per_million

    from candidates
    where price_rank = 1

),

final as (

    select
        {{ key | join(', ') }},
        max(database_model) as database_model,
        {% for c in token_classes() -%}
        max(case when token_class = '{{ c }}' then effective_usd_per_million end) as {{ c }}_usd_per_million,
        {% endfor -%}
        max(case when token_class is not null then 1 else 0 end) = 1 as has_database_price

    from chosen
    group by {{ key | join(', ') }}

)

select * from final
