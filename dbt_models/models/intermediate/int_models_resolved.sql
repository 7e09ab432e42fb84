-- One row per provider x model id seen in usage, billed costs or request events: the price-book model
-- it resolves to (the LONGEST matching match_pattern wins; ties: alphabetical priced_model) and the
-- model_key that matches usage, events and cost lines of the same model across sources.
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

patterns as (

    select distinct
        lower(trim(provider)) as provider,
        lower(trim(model)) as priced_model,
        lower(trim(match_pattern)) as match_pattern
    from {{ ref('price_book') }}
    where match_pattern is not null

),

candidates as (

    select
        models.provider,
        models.model,
        patterns.priced_model,
        patterns.match_pattern,
        row_number() over (
            partition by models.provider, models.model
            order by {{ dbt.length('patterns.match_pattern') }} desc, patterns.priced_model, patterns.match_pattern
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
        priced_model is not null as has_price_book_match

    from candidates
    where pattern_rank = 1

)

select * from final
