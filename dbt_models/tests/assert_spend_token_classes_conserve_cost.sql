-- Splitting spend over token classes keeps every dollar: per usage_date x provider, the classes of
-- int_spend_token_classes sum exactly to int_spend_allocated (hence to the bill). Returns the days that do not.
with

allocated as (

    select usage_date, provider, sum(cost_usd) as cost_usd
    from {{ ref('int_spend_allocated') }}
    group by usage_date, provider

),

classes as (

    select usage_date, provider, sum(cost_usd) as cost_usd
    from {{ ref('int_spend_token_classes') }}
    group by usage_date, provider

)

select
    coalesce(allocated.usage_date, classes.usage_date) as usage_date,
    coalesce(allocated.provider, classes.provider) as provider,
    allocated.cost_usd as allocated_usd,
    classes.cost_usd as classes_usd
from allocated
full outer join classes
    on allocated.usage_date = classes.usage_date
    and allocated.provider = classes.provider
where coalesce(allocated.cost_usd, 0) <> coalesce(classes.cost_usd, 0)
