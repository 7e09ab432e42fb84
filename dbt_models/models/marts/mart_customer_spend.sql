-- One row per month x scope_type x scope (calendar month; month = its first day):
--   scope_type 'customer'  scope = the customer_id the requests carried (fct_token_spend.customer_id)
--   scope_type 'segment'   scope = the customer's segment IN FORCE ON EACH usage_date (seeds/customers.csv,
--                          effective-dated): a customer who upgrades mid-month puts the days before the
--                          upgrade in the old segment's row and the days from it in the new one's.
-- Spend with no customer (untagged requests, and every row that is not a request: unlogged residual,
-- console, web search, unmatched billed lines) is kept as scope '(no customer)' in both scope types; a
-- customer id with no customers.csv row in force that day is counted in segment '(unknown segment)'.
-- So the customer rows of a month sum exactly to the fact's total for the month, and so do the segment
-- rows (singular test assert_mart_customer_spend_ties_to_fact).
--
--   requests               logged requests (request rows' request_count)
--   interactions           AI interactions, as mart_feature_spend counts them: a task (all the requests of
--                          one task_id) or, untasked, a single request; a task whose requests fall in two
--                          segments counts in each
--   cost_per_interaction_usd  cost_usd / interactions (null without interactions)
--   share_of_feature_spend the scope's share of the cost of the features it used that month: over the
--                          features the scope has spend rows on in the month (feature not null), the
--                          scope's cost on them / the whole fact's cost on them that month (every customer
--                          and no customer). Null when the scope used no attributed feature or those
--                          features cost 0. Spend on no feature is in neither side.
{%- set no_customer = "'(no customer)'" %}
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

requests as (

    select * from {{ ref('int_request_events_attributed') }}

),

customers as (

    select
        {{ normalize_tag('customer_id') }} as customer_id,
        customer_name,
        {{ normalize_tag('segment') }} as segment,
        valid_from,
        valid_to
    from {{ ref('customers') }}

),

customer_names as (

    -- the most recent name a customer has in the seed, in force or not
    select customer_id, customer_name
    from (
        select
            customer_id,
            customer_name,
            row_number() over (partition by customer_id order by valid_from desc) as name_rank
        from customers
    ) as ranked
    where name_rank = 1

),

customer_days as (

    select distinct customer_id, usage_date
    from (
        select customer_id, usage_date from spend where customer_id is not null
        union all
        select customer_id, usage_date from requests where customer_id is not null
    ) as seen

),

segment_days as (

    -- each customer's segment on each day it was served (the latest valid_from if rows ever overlap)
    select customer_id, usage_date, segment
    from (
        select
            customer_days.customer_id,
            customer_days.usage_date,
            customers.segment,
            row_number() over (
                partition by customer_days.customer_id, customer_days.usage_date
                order by customers.valid_from desc
            ) as segment_rank
        from customer_days
        inner join customers
            on customer_days.customer_id = customers.customer_id
            and {{ effective_on('customer_days.usage_date', 'customers') }}
    ) as ranked
    where segment_rank = 1

),

scoped_spend as (

    select
        cast({{ dbt.date_trunc('month', 'spend.usage_date') }} as date) as month,
        spend.usage_date,
        coalesce(spend.customer_id, {{ no_customer }}) as customer_scope,
        case
            when spend.customer_id is null then {{ no_customer }}
            else coalesce(segment_days.segment, '(unknown segment)')
        end as segment_scope,
        spend.feature,
        case when spend.record_type = 'request' then spend.request_count else 0 end as requests,
        spend.cost_usd

    from spend
    left join segment_days
        on spend.customer_id = segment_days.customer_id
        and spend.usage_date = segment_days.usage_date

),

scoped_requests as (

    select
        cast({{ dbt.date_trunc('month', 'requests.usage_date') }} as date) as month,
        coalesce(requests.customer_id, {{ no_customer }}) as customer_scope,
        case
            when requests.customer_id is null then {{ no_customer }}
            else coalesce(segment_days.segment, '(unknown segment)')
        end as segment_scope,
        coalesce(requests.task_id, requests.request_id) as interaction_id

    from requests
    left join segment_days
        on requests.customer_id = segment_days.customer_id
        and requests.usage_date = segment_days.usage_date

),

spend_rows as (

    select month, 'customer' as scope_type, customer_scope as scope, feature, requests, cost_usd
    from scoped_spend
    union all
    select month, 'segment' as scope_type, segment_scope as scope, feature, requests, cost_usd
    from scoped_spend

),

interaction_rows as (

    select month, 'customer' as scope_type, customer_scope as scope, interaction_id
    from scoped_requests
    union all
    select month, 'segment' as scope_type, segment_scope as scope, interaction_id
    from scoped_requests

),

spend_by_scope as (

    select
        month,
        scope_type,
        scope,
        {{ sum_count('requests') }} as requests,
        sum(cost_usd) as cost_usd

    from spend_rows
    group by month, scope_type, scope

),

interactions_by_scope as (

    select
        month,
        scope_type,
        scope,
        count(distinct interaction_id) as interactions

    from interaction_rows
    group by month, scope_type, scope

),

feature_costs as (

    -- the whole fact's cost of each feature and month
    select month, feature, sum(cost_usd) as feature_cost_usd
    from scoped_spend
    where feature is not null
    group by month, feature

),

scope_feature_costs as (

    select month, scope_type, scope, feature, sum(cost_usd) as scope_cost_usd
    from spend_rows
    where feature is not null
    group by month, scope_type, scope, feature

),

feature_shares as (

    select
        scope_feature_costs.month,
        scope_feature_costs.scope_type,
        scope_feature_costs.scope,
        sum(scope_feature_costs.scope_cost_usd) as scope_cost_usd,
        sum(feature_costs.feature_cost_usd) as used_features_cost_usd

    from scope_feature_costs
    inner join feature_costs  -- every scope's feature and month is in feature_costs (same rows)
        on scope_feature_costs.month = feature_costs.month
        and scope_feature_costs.feature = feature_costs.feature
    group by scope_feature_costs.month, scope_feature_costs.scope_type, scope_feature_costs.scope

),

customer_segments as (

    -- a customer row's segment: the one in force on the customer's last day of spend in the month
    select month, customer_scope, segment_scope
    from (
        select
            month,
            customer_scope,
            segment_scope,
            row_number() over (
                partition by month, customer_scope
                order by usage_date desc, segment_scope
            ) as day_rank
        from scoped_spend
    ) as ranked
    where day_rank = 1

),

final as (

    select
        spend_by_scope.month,
        spend_by_scope.scope_type,
        spend_by_scope.scope,
        customer_names.customer_name,
        case
            when spend_by_scope.scope_type = 'customer' then customer_segments.segment_scope
            else spend_by_scope.scope
        end as segment,
        spend_by_scope.requests,
        coalesce(interactions_by_scope.interactions, 0) as interactions,
        spend_by_scope.cost_usd,
        {{ divide_money('spend_by_scope.cost_usd', 'interactions_by_scope.interactions') }}
            as cost_per_interaction_usd,
        {{ safe_ratio('feature_shares.scope_cost_usd', 'feature_shares.used_features_cost_usd') }}
            as share_of_feature_spend

    from spend_by_scope
    left join interactions_by_scope
        on spend_by_scope.month = interactions_by_scope.month
        and spend_by_scope.scope_type = interactions_by_scope.scope_type
        and spend_by_scope.scope = interactions_by_scope.scope
    left join feature_shares
        on spend_by_scope.month = feature_shares.month
        and spend_by_scope.scope_type = feature_shares.scope_type
        and spend_by_scope.scope = feature_shares.scope
    left join customer_segments
        on spend_by_scope.scope_type = 'customer'
        and spend_by_scope.month = customer_segments.month
        and spend_by_scope.scope = customer_segments.customer_scope
    left join customer_names
        on spend_by_scope.scope_type = 'customer'
        and spend_by_scope.scope = customer_names.customer_id

)

select * from final
