-- One row per spend unit at the fact grain: usage_date x provider x project_id x api_key_id x model x
-- is_batch x feature x workflow x team x employee_id x customer_id x attribution_method x record_type.
-- Spend units are what share a cell's billed cost in int_spend_allocated:
--   request           logged requests, aggregated (one unit per customer served)
--   unlogged_residual per provider usage row, the usage the event log does not explain: usage tokens
--                     minus the tokens of logged requests with the same (usage_date, provider,
--                     project_id, api_key_id, model_key, is_batch), per class, clamped at 0
--                     (the two cache-write classes count as one family, see residual_rows);
--                     attributed by API key owner, then project owner, else untagged.
--   console           the same residual for Anthropic usage no API key made (Console, Workbench):
--                     attributed by its workspace owner, else untagged.
--   web_search        per usage_date x provider x project_id x api_key_id, the web searches the usage
--                     report counts (request_count = searches; no tokens, no list estimate): what the
--                     day's web-search bill line of the workspace is split by in int_spend_allocated;
--                     attributed by API key owner, then project owner, else untagged.
-- Only request units carry a customer_id; every other unit has none (null).
-- allocation_unit_id keys the unit without its customer: a cell's billed cost is shared over those
-- units, and each one's share is then split over its customers (int_spend_allocated), so the customer
-- dimension changes no other figure of the fact.
-- When several usage rows share one match key (e.g. two service tiers, or two model ids of one
-- model_key), the logged tokens are taken from them in a fixed order (standard tier first, then
-- context window, then model), so each class's residual totals exactly max(usage - logged, 0).
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set match_key = ['usage_date', 'provider', 'project_id', 'api_key_id', 'model_key', 'is_batch'] %}
{%- set dims = ['usage_date', 'provider', 'project_id', 'api_key_id', 'model', 'model_key', 'is_batch',
                'feature', 'workflow', 'team', 'employee_id', 'customer_id', 'attribution_method', 'record_type'] %}
{%- set allocation_dims = dims | reject('equalto', 'customer_id') | list %}
{%- set measures = ['request_count'] + token_classes() | map('string') | list %}
with

requests as (

    select * from {{ ref('int_request_events_attributed') }}
    where {{ in_rebuild_scope('usage_date') }}

),

provider_usage as (

    select * from {{ ref('int_provider_usage_unioned') }}
    where {{ in_rebuild_scope('usage_date') }}

),

models as (

    select * from {{ ref('int_models_resolved') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

owners as (

    select * from {{ ref('int_owners_resolved') }}

),

-- (a) logged requests at the fact grain ------------------------------------------------------------
request_units as (

    select
        usage_date, provider, project_id, api_key_id, model, model_key, is_batch,
        feature, workflow, team, employee_id, customer_id, attribution_method,
        'request' as record_type,
        count(*) as request_count,
        {{ sum_token_classes() }},
        case
            when max(case when is_unpriced then 1 else 0 end) = 1 then null
            else sum(estimated_cost_usd)
        end as estimated_cost_usd

    from requests
    group by
        usage_date, provider, project_id, api_key_id, model, model_key, is_batch,
        feature, workflow, team, employee_id, customer_id, attribution_method

),

-- (b) unlogged residual ----------------------------------------------------------------------------
logged_by_match_key as (

    select
        {{ match_key | join(', ') }},
        count(*) as logged_request_count,
        {% for c in token_classes() -%}
        {{ sum_count(c ~ '_tokens') }} as logged_{{ c }}_tokens{% if not loop.last %},{% endif %}
        {% endfor %}
    from requests
    group by {{ match_key | join(', ') }}

),

usage_keyed as (

    select
        provider_usage.*,
        coalesce(models.model_key, provider_usage.model) as model_key

    from provider_usage
    left join models
        on provider_usage.provider = models.provider
        and provider_usage.model = models.model

),

usage_with_logged as (

    select
        usage_keyed.*,
        coalesce(logged.logged_request_count, 0) as logged_request_count,
        {% for c in token_classes() -%}
        coalesce(logged.logged_{{ c }}_tokens, 0) as logged_{{ c }}_tokens,
        {% endfor -%}
        row_number() over (
            partition by {% for k in match_key %}usage_keyed.{{ k }}{% if not loop.last %}, {% endif %}{% endfor %}
            order by
                case when usage_keyed.service_tier = 'standard' then 0 else 1 end,
                usage_keyed.service_tier,
                usage_keyed.context_window,
                usage_keyed.model
        ) as absorb_order

    from usage_keyed
    left join logged_by_match_key as logged
        on usage_keyed.usage_date = logged.usage_date
        and usage_keyed.provider = logged.provider
        and {{ null_safe_equal('usage_keyed.project_id', 'logged.project_id') }}
        and {{ null_safe_equal('usage_keyed.api_key_id', 'logged.api_key_id') }}
        and {{ null_safe_equal('usage_keyed.model_key', 'logged.model_key') }}
        and usage_keyed.is_batch = logged.is_batch

),

usage_running as (

    select
        *,
        {% for m in measures -%}
        coalesce(sum({{ m if m == 'request_count' else m ~ '_tokens' }}) over (
            partition by {{ match_key | join(', ') }}
            order by absorb_order
            rows between unbounded preceding and 1 preceding
        ), 0) as earlier_{{ m }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from usage_with_logged

),

residual_rows as (

    select
        usage_running.usage_date,
        usage_running.provider,
        usage_running.project_id,
        usage_running.api_key_id,
        usage_running.model,
        usage_running.model_key,
        usage_running.is_batch,
        usage_running.service_tier,
        usage_running.context_window,
        -- logged units this row still has to absorb = logged - what earlier rows absorbed
        greatest(
            usage_running.request_count
            - greatest(usage_running.logged_request_count - usage_running.earlier_request_count, 0),
            0
        ) as request_count,
        {%- set writes_available -%}
            greatest(
                usage_running.logged_cache_write_5m_input_tokens + usage_running.logged_cache_write_1h_input_tokens
                - usage_running.earlier_cache_write_5m_input - usage_running.earlier_cache_write_1h_input,
                0
            )
        {%- endset %}
        {% for c in token_classes() -%}
        {% if c == 'cache_write_5m_input' -%}
        -- Cache writes are one family: the event log has a single cache-write class, so a logged write
        -- may be a 1-hour write in the usage report. Logged writes absorb 5-minute usage first, then
        -- 1-hour usage; only writes no logged request explains are residual.
        greatest(usage_running.cache_write_5m_input_tokens - {{ writes_available }}, 0) as cache_write_5m_input_tokens,
        {% elif c == 'cache_write_1h_input' -%}
        greatest(
            usage_running.cache_write_1h_input_tokens
            - greatest({{ writes_available }} - usage_running.cache_write_5m_input_tokens, 0),
            0
        ) as cache_write_1h_input_tokens,
        {% else -%}
        greatest(
            usage_running.{{ c }}_tokens
            - greatest(usage_running.logged_{{ c }}_tokens - usage_running.earlier_{{ c }}, 0),
            0
        ) as {{ c }}_tokens{% if not loop.last %},{% endif %}
        {% endif -%}
        {% endfor %}
    from usage_running

),

residual_priced as (

    select
        residual_rows.*,
        {{ list_cost_usd('residual_rows', 'prices') }} as estimated_cost_usd

    from residual_rows
    left join prices
        on residual_rows.usage_date = prices.usage_date
        and residual_rows.provider = prices.provider
        and {{ null_safe_equal('residual_rows.model', 'prices.model') }}
        and residual_rows.service_tier = prices.service_tier
        and {{ null_safe_equal('residual_rows.context_window', 'prices.context_window') }}
        and residual_rows.is_batch = prices.is_batch

),

residual_attributed as (

    select
        residual_priced.*,
        owners.owner_feature as feature,
        owners.owner_workflow as workflow,
        owners.owner_team as team,
        owners.owner_employee_id as employee_id,
        coalesce(owners.owner_attribution_method, 'untagged') as attribution_method

    from residual_priced
    left join owners
        on residual_priced.usage_date = owners.usage_date
        and residual_priced.provider = owners.provider
        and {{ null_safe_equal('residual_priced.project_id', 'owners.project_id') }}
        and {{ null_safe_equal('residual_priced.api_key_id', 'owners.api_key_id') }}

),

residual_units as (

    select
        usage_date, provider, project_id, api_key_id, model, model_key, is_batch,
        feature, workflow, team, employee_id,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        attribution_method,
        case
            when {{ is_console_usage('provider', 'api_key_id') }} then 'console'
            else 'unlogged_residual'
        end as record_type,
        {{ sum_count('request_count') }} as request_count,
        {{ sum_token_classes() }},
        case
            when max(case when estimated_cost_usd is null then 1 else 0 end) = 1 then null
            else sum(estimated_cost_usd)
        end as estimated_cost_usd

    from residual_attributed
    group by
        usage_date, provider, project_id, api_key_id, model, model_key, is_batch,
        feature, workflow, team, employee_id, attribution_method

),

residual_units_left as (

    -- usage the event log explains completely leaves nothing to carry
    select * from residual_units
    where request_count > 0 or {{ total_tokens() }} > 0

),

-- (c) web searches --------------------------------------------------------------------------------
-- The cost report bills web search per workspace and day, with no key and no model; the usage report
-- counts each key's searches (summed over its models, tiers and batch flag).
web_search_keys as (

    select
        usage_date, provider, project_id, api_key_id,
        {{ sum_count('web_search_requests') }} as web_search_requests

    from provider_usage
    group by usage_date, provider, project_id, api_key_id
    having sum(web_search_requests) > 0

),

web_search_units as (

    select
        web_search_keys.usage_date,
        web_search_keys.provider,
        web_search_keys.project_id,
        web_search_keys.api_key_id,
        cast(null as {{ dbt.type_string() }}) as model,
        cast(null as {{ dbt.type_string() }}) as model_key,
        false as is_batch,
        owners.owner_feature as feature,
        owners.owner_workflow as workflow,
        owners.owner_team as team,
        owners.owner_employee_id as employee_id,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        coalesce(owners.owner_attribution_method, 'untagged') as attribution_method,
        'web_search' as record_type,
        web_search_keys.web_search_requests as request_count,
        {% for c in token_classes() -%}
        cast(0 as {{ dbt.type_bigint() }}) as {{ c }}_tokens,
        {% endfor -%}
        -- the price book lists token prices only: a search has no list estimate
        cast(null as {{ money_type() }}) as estimated_cost_usd

    from web_search_keys
    left join owners
        on web_search_keys.usage_date = owners.usage_date
        and web_search_keys.provider = owners.provider
        and {{ null_safe_equal('web_search_keys.project_id', 'owners.project_id') }}
        and {{ null_safe_equal('web_search_keys.api_key_id', 'owners.api_key_id') }}

),

units as (

    select * from request_units
    union all
    select * from residual_units_left
    union all
    select * from web_search_units

),

final as (

    select
        {{ surrogate_key(dims) }} as spend_unit_id,
        {{ surrogate_key(allocation_dims) }} as allocation_unit_id,
        {{ dims | join(', ') }},
        request_count,
        {% for c in token_classes() -%}
        {{ c }}_tokens,
        {% endfor -%}
        {{ total_tokens() }} as total_tokens,
        cast(estimated_cost_usd as {{ money_type() }}) as estimated_cost_usd,
        -- searches are not tokens: no estimate, and nothing the price book is missing
        estimated_cost_usd is null and record_type <> 'web_search' as is_unpriced

    from units

)

select * from final
