-- One row per provider x model id seen in usage, billed costs or request events: the price-book model
-- it resolves to (the LONGEST matching match_pattern wins; ties: alphabetical priced_model) and the
-- model_key that matches usage, events and cost lines of the same model across sources.
-- price_book.csv (people) is read before price_book_generated.csv (the price database, `make prices`):
-- an id any hand-written pattern matches resolves there, whatever the length of a generated pattern;
-- price_origin says which file prices the id (macros/price_book.sql).
with

usage_models as (

    select distinct provider, model
    from {{ ref('int_provider_usage_unioned') }}
    where model is not null

),

cost_models as (

    select distinct provider, model
    from {{ ref('int_billed_costs_unioned') }}
    where model is not null

),

event_models as (

    select distinct provider, model
    from {{ ref('stg_events__requests') }}
    where model is not null

),

models as (

    -- union all + distinct: BigQuery has no bare UNION
    select distinct * from (
        select provider, model from usage_models
        union all
        select provider, model from cost_models
        union all
        select provider, model from event_models
    ) as unioned

),

hand_written as (

    {{ price_book_rows('price_book', 'price_book') }}

),

hand_written_models as (

    select distinct provider, priced_model from hand_written

),

patterns as (

    -- a generated pattern of a model price_book.csv prices (the database names the id as that model)
    -- resolves to it, and its hand-written rows price it (effective_price_book)
    select distinct
        book.provider,
        book.priced_model,
        book.match_pattern,
        case when book.price_origin = 'price_book' then 0 else 1 end as origin_rank,
        case when hand_written_models.priced_model is not null then 'price_book' else 'price_database' end
            as price_origin
    from (
        select * from hand_written
        union all
        {{ price_book_rows('price_book_generated', 'price_database') }}
    ) as book
    left join hand_written_models
        on book.provider = hand_written_models.provider
        and book.priced_model = hand_written_models.priced_model
    where book.match_pattern is not null

),

candidates as (

    select
        models.provider,
        models.model,
        patterns.priced_model,
        patterns.match_pattern,
        patterns.price_origin,
        row_number() over (
            partition by models.provider, models.model
            order by patterns.origin_rank, {{ dbt.length('patterns.match_pattern') }} desc, patterns.priced_model,
                patterns.match_pattern
        ) as pattern_rank

    from models
    left join patterns
        on models.provider = patterns.provider
        and models.model like patterns.match_pattern

),

final as (

    select
        provider,
        model,
        priced_model,
        match_pattern as matched_pattern,
        coalesce(priced_model, model) as model_key,
        priced_model is not null as has_price_book_match,
        price_origin

    from candidates
    where pattern_rank = 1

)

select * from final
