-- One row per match group = usage_date x provider x project_id x api_key_id x model_key seen in
-- provider usage or request events: how the provider's usage at list and the request events' estimate
-- at list differ, split into tokens the event log does not show (unlogged), events the usage does not
-- show (not in usage), and the same tokens classified differently (classification: cache TTL, cache
-- read vs uncached, batch flag, service tier, context window). mart_reconciliation adds the bill.
--
-- Step 1, per group x token class x pricing slot (is_batch, service_tier, long context or not), where
-- one list price applies to every token: u = usage tokens, l = logged tokens, U and E their list values.
--     u > l: u - l tokens unlogged, worth U * (u - l) / u
--     l > u: l - u tokens not in usage, worth E * (l - u) / l
-- Step 2, per group x token family (uncached input, cache read, cache write = 5-minute + 1-hour, output),
-- then per token kind (input, output) for what is left: the unlogged tokens UT and the not-in-usage
-- tokens OT overlap by m = min(UT, OT) tokens that BOTH sides saw, each in another class or slot (the
-- event log has one cache-write class, so code review's 1-hour writes are logged as 5-minute writes).
-- Those m tokens are reclassified, not missing; what is left of each side keeps its pro-rata value:
--     unlogged_at_list     = (value of UT) * (UT - m) / UT
--     not_in_usage_at_list = -(value of OT) * (OT - m) / OT
--     classification_at_list = (usage_at_list - unlogged_at_list) - (estimate + not_in_usage_at_list)
-- i.e. the list value of the usage the events explain, as the provider classified it, minus the
-- events' value of the same tokens. By construction, exactly in DECIMAL:
--     usage_at_list - estimate = unlogged_at_list + classification_at_list + not_in_usage_at_list
-- estimate is the sum of int_request_events_attributed.estimated_cost_usd. A group with any unpriced
-- usage row or request is unpriced: its list amounts are NULL, never 0.
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set group_key = ['usage_date', 'provider', 'project_id', 'api_key_id', 'model_key'] %}
{#- m = min(unlogged, not in usage) tokens are reclassified; what is left of each side keeps its share
    of the side's list value (a side fully reclassified keeps 0, an untouched side keeps all). -#}
{%- set net_reclassified -%}
    select
        *,
        least(unlogged_tokens, not_in_usage_tokens) as reclassified_tokens,
        case
            when not_in_usage_tokens = 0 then unlogged_list_usd
            when unlogged_tokens <= not_in_usage_tokens then cast(0 as {{ money_type() }})
            else {{ divide_money('unlogged_list_usd * (unlogged_tokens - not_in_usage_tokens)', 'unlogged_tokens') }}
        end as unlogged_left_usd,
        case
            when unlogged_tokens = 0 then not_in_usage_list_usd
            when not_in_usage_tokens <= unlogged_tokens then cast(0 as {{ money_type() }})
            else {{ divide_money('not_in_usage_list_usd * (not_in_usage_tokens - unlogged_tokens)', 'not_in_usage_tokens') }}
        end as not_in_usage_left_usd

    from __relation__
{%- endset %}
{%- set slot = ['is_batch', 'service_tier', 'context_slot'] %}
{%- set cell_key = group_key + slot + ['token_class', 'token_kind'] %}
with

usage_priced as (

    select * from {{ ref('int_usage_priced') }}
    where {{ in_rebuild_scope('usage_date') }}

),

requests as (

    select * from {{ ref('int_request_events_attributed') }}
    where {{ in_rebuild_scope('usage_date') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

-- provider usage -----------------------------------------------------------------------------------
usage_groups as (

    select
        {{ group_key | join(', ') }},
        max(case when is_unpriced then 1 else 0 end) = 1 as has_unpriced_usage,
        {{ sum_count('total_tokens') }} as usage_tokens,
        sum(list_cost_usd) as usage_at_list_usd

    from usage_priced
    group by {{ group_key | join(', ') }}

),

usage_slotted as (

    select
        *,
        case when context_window = '200k-1M' then '200k-1M' else 'all' end as context_slot

    from usage_priced

),

usage_long as (

    {{ token_classes_long('usage_slotted', group_key + slot) }}

),

usage_cells as (

    select {{ cell_key | join(', ') }}, {{ sum_count('tokens') }} as tokens, sum(list_usd) as list_usd
    from usage_long
    group by {{ cell_key | join(', ') }}

),

-- request events -----------------------------------------------------------------------------------
requests_slotted as (

    select
        *,
        -- the long-context key int_prices_resolved derives for events (Anthropic input > 200k)
        {{ event_context_window() }} as context_window

    from requests

),

event_groups as (

    select
        {{ group_key | join(', ') }},
        count(*) as logged_request_count,
        max(case when is_unpriced then 1 else 0 end) = 1 as has_unpriced_request,
        {{ sum_count('total_tokens') }} as logged_tokens,
        -- the request-level estimate exactly as int_request_events_attributed prices each request
        sum(estimated_cost_usd) as estimated_cost_usd

    from requests_slotted
    group by {{ group_key | join(', ') }}

),

events_by_price as (

    select
        {{ group_key | join(', ') }}, model, service_tier, is_batch, context_window,
        {{ sum_token_classes() }}

    from requests_slotted
    group by {{ group_key | join(', ') }}, model, service_tier, is_batch, context_window

),

events_priced as (

    select
        events_by_price.*,
        coalesce(events_by_price.context_window, 'all') as context_slot,
        {% for c in token_classes() -%}
        case
            when events_by_price.{{ c }}_tokens = 0 then cast(0 as {{ money_type() }})
            else {{ usd_from_per_million('events_by_price.' ~ c ~ '_tokens * prices.' ~ c ~ '_usd_per_million') }}
        end as {{ c }}_list_usd{% if not loop.last %},{% endif %}
        {% endfor %}
    from events_by_price
    left join prices
        on events_by_price.usage_date = prices.usage_date
        and events_by_price.provider = prices.provider
        and events_by_price.model = prices.model
        and events_by_price.service_tier = prices.service_tier
        and {{ null_safe_equal('events_by_price.context_window', 'prices.context_window') }}
        and events_by_price.is_batch = prices.is_batch

),

events_long as (

    {{ token_classes_long('events_priced', group_key + slot) }}

),

event_cells as (

    select {{ cell_key | join(', ') }}, {{ sum_count('tokens') }} as tokens, sum(list_usd) as list_usd
    from events_long
    group by {{ cell_key | join(', ') }}

),

-- step 1: per class and pricing slot ---------------------------------------------------------------
cell_keys as (

    select distinct * from (
        select {{ cell_key | join(', ') }} from usage_cells
        union all
        select {{ cell_key | join(', ') }} from event_cells
    ) as unioned

),

slot_compared as (

    select
        {% for k in cell_key %}cell_keys.{{ k }},{% endfor %}
        coalesce(usage_cells.tokens, 0) as u,
        coalesce(event_cells.tokens, 0) as l,
        coalesce(usage_cells.list_usd, 0) as usage_list_usd,
        coalesce(event_cells.list_usd, 0) as event_list_usd

    from cell_keys
    left join usage_cells
        on {{ null_safe_join('cell_keys', 'usage_cells', cell_key) }}
    left join event_cells
        on {{ null_safe_join('cell_keys', 'event_cells', cell_key) }}

),

slot_split as (

    select
        {{ group_key | join(', ') }},
        token_kind,
        case when token_class like 'cache_write%' then 'cache_write_input' else token_class end as token_family,
        greatest(u - l, 0) as unlogged_tokens,
        greatest(l - u, 0) as not_in_usage_tokens,
        case
            when u <= l then cast(0 as {{ money_type() }})
            when l = 0 then usage_list_usd
            else {{ divide_money('usage_list_usd * (u - l)', 'u') }}
        end as unlogged_list_usd,
        case
            when l <= u then cast(0 as {{ money_type() }})
            when u = 0 then event_list_usd
            else {{ divide_money('event_list_usd * (l - u)', 'l') }}
        end as not_in_usage_list_usd

    from slot_compared

),

-- step 2a: per token family, tokens both sides saw in different slots are reclassified, not missing
family_totals as (

    select
        {{ group_key | join(', ') }},
        token_kind,
        token_family,
        {{ sum_count('unlogged_tokens') }} as unlogged_tokens,
        {{ sum_count('not_in_usage_tokens') }} as not_in_usage_tokens,
        sum(unlogged_list_usd) as unlogged_list_usd,
        sum(not_in_usage_list_usd) as not_in_usage_list_usd

    from slot_split
    group by {{ group_key | join(', ') }}, token_kind, token_family

),

family_split as (

    {{ net_reclassified | replace('__relation__', 'family_totals') }}

),

-- step 2b: what is left, per token kind (e.g. cached input logged as uncached) ----------------------
kind_totals as (

    select
        {{ group_key | join(', ') }},
        token_kind,
        {{ sum_count('reclassified_tokens') }} as earlier_reclassified_tokens,
        {{ sum_count('unlogged_tokens - reclassified_tokens') }} as unlogged_tokens,
        {{ sum_count('not_in_usage_tokens - reclassified_tokens') }} as not_in_usage_tokens,
        sum(unlogged_left_usd) as unlogged_list_usd,
        sum(not_in_usage_left_usd) as not_in_usage_list_usd

    from family_split
    group by {{ group_key | join(', ') }}, token_kind

),

kind_split as (

    {{ net_reclassified | replace('__relation__', 'kind_totals') }}

),

group_split as (

    select
        {{ group_key | join(', ') }},
        {{ sum_count('unlogged_tokens - reclassified_tokens') }} as unlogged_tokens,
        {{ sum_count('not_in_usage_tokens - reclassified_tokens') }} as not_in_usage_tokens,
        {{ sum_count('earlier_reclassified_tokens + reclassified_tokens') }} as reclassified_tokens,
        sum(unlogged_left_usd) as unlogged_at_list_usd,
        -sum(not_in_usage_left_usd) as not_in_usage_at_list_usd

    from kind_split
    group by {{ group_key | join(', ') }}

),

-- every group either side --------------------------------------------------------------------------
group_keys as (

    select distinct * from (
        select {{ group_key | join(', ') }} from usage_groups
        union all
        select {{ group_key | join(', ') }} from event_groups
    ) as unioned

),

joined as (

    select
        {% for k in group_key %}group_keys.{{ k }},{% endfor %}
        usage_groups.usage_tokens is not null as has_usage,
        event_groups.logged_request_count is not null as has_events,
        coalesce(usage_groups.has_unpriced_usage, false)
            or coalesce(event_groups.has_unpriced_request, false) as is_unpriced,
        coalesce(usage_groups.usage_tokens, 0) as usage_tokens,
        coalesce(event_groups.logged_tokens, 0) as logged_tokens,
        coalesce(group_split.unlogged_tokens, 0) as unlogged_tokens,
        coalesce(group_split.not_in_usage_tokens, 0) as not_in_usage_tokens,
        coalesce(group_split.reclassified_tokens, 0) as reclassified_tokens,
        coalesce(event_groups.logged_request_count, 0) as logged_request_count,
        coalesce(usage_groups.usage_at_list_usd, 0) as usage_at_list_usd,
        coalesce(event_groups.estimated_cost_usd, 0) as estimated_cost_usd,
        coalesce(group_split.unlogged_at_list_usd, 0) as unlogged_at_list_usd,
        coalesce(group_split.not_in_usage_at_list_usd, 0) as not_in_usage_at_list_usd

    from group_keys
    left join usage_groups
        on {{ null_safe_join('group_keys', 'usage_groups', group_key) }}
    left join event_groups
        on {{ null_safe_join('group_keys', 'event_groups', group_key) }}
    left join group_split
        on {{ null_safe_join('group_keys', 'group_split', group_key) }}

),

final as (

    select
        {{ group_key | join(', ') }},
        has_usage,
        has_events,
        is_unpriced,
        usage_tokens,
        logged_tokens,
        cast(unlogged_tokens as {{ dbt.type_bigint() }}) as unlogged_tokens,
        cast(not_in_usage_tokens as {{ dbt.type_bigint() }}) as not_in_usage_tokens,
        cast(reclassified_tokens as {{ dbt.type_bigint() }}) as reclassified_tokens,
        logged_request_count,
        case when is_unpriced then null else cast(usage_at_list_usd as {{ money_type() }}) end as usage_at_list_usd,
        case when is_unpriced then null else cast(estimated_cost_usd as {{ money_type() }}) end as estimated_cost_usd,
        case when is_unpriced then null else cast(unlogged_at_list_usd as {{ money_type() }}) end as unlogged_at_list_usd,
        case when is_unpriced then null else cast(not_in_usage_at_list_usd as {{ money_type() }}) end as not_in_usage_at_list_usd,
        case when is_unpriced then null else cast(
            usage_at_list_usd - unlogged_at_list_usd - estimated_cost_usd - not_in_usage_at_list_usd
        as {{ money_type() }}) end as classification_at_list_usd

    from joined

)

select * from final
