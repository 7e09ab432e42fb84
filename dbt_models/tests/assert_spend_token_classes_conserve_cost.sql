-- Splitting spend over token classes keeps every dollar and every estimate: the classes of each fact row
-- (int_spend_token_classes, by token_spend_id) sum exactly to its cost_usd and, when priced, to its
-- estimated_cost_usd; no fact row is missing and none is invented. Returns the rows that break it.
with

fact as (

    select token_spend_id, cost_usd, estimated_cost_usd
    from {{ ref('fct_token_spend') }}

),

classes as (

    select
        token_spend_id,
        sum(cost_usd) as cost_usd,
        sum(estimated_cost_usd) as estimated_cost_usd,
        count(estimated_cost_usd) as estimated_classes,
        count(*) as classes
    from {{ ref('int_spend_token_classes') }}
    group by token_spend_id

)

select
    coalesce(fact.token_spend_id, classes.token_spend_id) as token_spend_id,
    fact.cost_usd as fact_cost_usd,
    classes.cost_usd as classes_cost_usd,
    fact.estimated_cost_usd as fact_estimated_cost_usd,
    classes.estimated_cost_usd as classes_estimated_cost_usd
from fact
full outer join classes
    on fact.token_spend_id = classes.token_spend_id
where fact.token_spend_id is null
    or classes.token_spend_id is null
    or fact.cost_usd <> classes.cost_usd
    or (fact.estimated_cost_usd is null) <> (classes.estimated_classes = 0)
    or fact.estimated_cost_usd <> classes.estimated_cost_usd
