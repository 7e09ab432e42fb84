-- One row per usage_date x provider x model id in provider usage: the provider's own tokens priced
-- twice, with the price book that prices them (price_book.csv, else the generated rows: book_estimate)
-- and with the price database alone (price_book_generated.csv: database_estimate). A difference says
-- that one of them is stale (or that price_book.csv holds a negotiated price); the asset check
-- price_book_agrees_with_price_database warns above TOKENSPEND_PRICE_CROSSCHECK_TOLERANCE_PCT.
--
-- Provider usage is the basis because it is all the traffic the bill covers, with the tier, context
-- window and batch flag the provider reports. An estimate is null when a class with tokens has no price
-- (never 0); the comparison is then not made (is_compared false).
with

usage_priced as (

    select * from {{ ref('int_usage_priced') }}

),

database_prices as (

    select * from {{ ref('int_database_prices_resolved') }}

),

models as (

    select * from {{ ref('int_models_resolved') }}

),

priced as (

    select
        usage_priced.usage_date,
        usage_priced.provider,
        usage_priced.model,
        usage_priced.total_tokens,
        usage_priced.list_cost_usd as book_estimate_usd,
        database_prices.database_model,
        {{ list_cost_usd('usage_priced', 'database_prices') | replace('database_prices.priced_model', 'database_prices.database_model') }} as database_estimate_usd

    from usage_priced
    left join database_prices
        on usage_priced.usage_date = database_prices.usage_date
        and usage_priced.provider = database_prices.provider
        and {{ null_safe_equal('usage_priced.model', 'database_prices.model') }}
        and usage_priced.service_tier = database_prices.service_tier
        and {{ null_safe_equal('usage_priced.context_window', 'database_prices.context_window') }}
        and usage_priced.is_batch = database_prices.is_batch

),

by_model as (

    select
        usage_date,
        provider,
        model,
        max(database_model) as database_model,
        {{ sum_count('total_tokens') }} as total_tokens,
        -- a day is compared only when both sides price every usage row of the model that day
        case when count(*) = count(book_estimate_usd) then sum(book_estimate_usd) end as book_estimate_usd,
        case when count(*) = count(database_estimate_usd) then sum(database_estimate_usd) end as database_estimate_usd

    from priced
    group by usage_date, provider, model

),

final as (

    select
        by_model.usage_date,
        by_model.provider,
        by_model.model,
        coalesce(models.model_key, by_model.model) as model_key,
        models.price_origin,
        by_model.database_model,
        by_model.total_tokens,
        by_model.book_estimate_usd,
        by_model.database_estimate_usd,
        by_model.book_estimate_usd - by_model.database_estimate_usd as difference_usd,
        {{ divide_money('(by_model.book_estimate_usd - by_model.database_estimate_usd) * 100', 'by_model.database_estimate_usd') }} as difference_pct,
        (by_model.book_estimate_usd is not null and by_model.database_estimate_usd is not null) as is_compared

    from by_model
    left join models
        on by_model.provider = models.provider
        and by_model.model = models.model

)

select * from final
