-- One row per logged request (request_id, as deduplicated and merged across sources in
-- stg_events__requests): its model_key, estimated list cost and attribution.
--
-- Request-level tags (feature, workflow, team, employee_id, customer_id) are first settled per request:
--   a. a tag correction (seed tag_corrections) in force on the request date, matched on the request_id,
--      else on its task_id, else on its root task (int_task_roots); the most specific match wins, then
--      the latest valid_from. Corrections re-attribute history on the next build.
--   b. workflow only: a sub-task's request takes its ROOT task's workflow (calls made by sub-agents
--      roll up to the workflow that started them)
--   c. the request's own tag (merged across sources in staging)
--   d. workflow only: the workflow of the request's task (its root's outcome, else the root's requests)
--   then an alias (seed tag_aliases) maps the value onto its canonical spelling.
--
-- Attribution, per dimension (feature, workflow, team, employee_id), by precedence:
--   1. request tag (as settled above); a tagged employee_id with no team tag takes the employee's team
--      ON THAT DATE
--   2. team only: the gateway's team (LiteLLM's team of the virtual key, gateway_team; mapped through
--      tag_aliases like a team tag)
--   3. API key owner  (api_key_owners in force on the request date)
--   4. project owner  (project_owners in force on the request date)
--   5. nothing        -> null
-- attribution_method names the highest-precedence rule that supplied ANY dimension
-- (request_tag, gateway_team, api_key_owner, project_owner, untagged).
{{ config(**incremental_by_day('all')) }}
-- depends_on: {{ ref('int_rebuild_days') }}
{%- set dims = ['feature', 'workflow', 'team', 'employee_id', 'customer_id'] %}
with

logged_requests as (

    select * from {{ ref('stg_events__requests') }}
    where {{ in_rebuild_scope('usage_date') }}

),

task_roots as (

    select * from {{ ref('int_task_roots') }}

),

tag_aliases as (

    select
        {{ normalize_tag_value('dimension') }} as dimension,
        {{ normalize_tag_value('alias') }} as alias,
        {{ normalize_tag_value('canonical') }} as canonical
    from {{ ref('tag_aliases') }}

),

tag_corrections as (

    select
        nullif(trim(request_id), '') as request_id,
        {{ normalize_tag_value('task_id') }} as task_id,
        {{ normalize_tag_value('dimension') }} as dimension,
        {{ normalize_tag_value('value') }} as value,
        valid_from,
        valid_to
    from {{ ref('tag_corrections') }}

),

key_projects as (

    select * from {{ ref('int_api_key_projects') }}

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

roster as (

    {{ employee_stints() }}

),

with_tasks as (

    -- a request's task and the root task it rolls up to (a task with no outcome is its own root)
    select
        logged_requests.*,
        coalesce(task_roots.root_task_id, logged_requests.task_id) as root_task_id,
        coalesce(task_roots.is_sub_task, false) as is_sub_task,
        task_roots.root_workflow

    from logged_requests
    left join task_roots
        on logged_requests.task_id = task_roots.task_id

),

corrections_keyed as (

    select
        case when request_id is not null then 'request' else 'task' end as match_kind,
        coalesce(request_id, task_id) as match_key,
        dimension,
        value,
        valid_from,
        valid_to
    from tag_corrections

),

correction_candidates as (

    -- only the requests a correction names, by request_id, task or root task (read apart from the
    -- main chain, so the requests are streamed once)
    select
        requests.request_id,
        requests.usage_date,
        requests.task_id,
        coalesce(task_roots.root_task_id, requests.task_id) as root_task_id

    from {{ ref('stg_events__requests') }} as requests
    left join task_roots
        on requests.task_id = task_roots.task_id
    where {{ in_rebuild_scope('requests.usage_date') }}
        and (
            requests.request_id in (select match_key from corrections_keyed where match_kind = 'request')
            or requests.task_id in (select match_key from corrections_keyed where match_kind = 'task')
            or task_roots.root_task_id in (select match_key from corrections_keyed where match_kind = 'task')
        )

),

correction_keys as (

    -- each candidate under the three keys a correction may name, most specific first:
    -- its request_id (1), its task (2), its root task (3)
    select
        correction_candidates.request_id,
        correction_candidates.usage_date,
        match_kinds.match_rank,
        case when match_kinds.match_rank = 1 then 'request' else 'task' end as match_kind,
        case match_kinds.match_rank
            when 1 then correction_candidates.request_id
            when 2 then correction_candidates.task_id
            else case
                when correction_candidates.root_task_id <> correction_candidates.task_id
                    then correction_candidates.root_task_id
            end
        end as match_key

    from correction_candidates
    cross join (
        select 1 as match_rank
        union all select 2
        union all select 3
    ) as match_kinds

),

correction_matches as (

    select
        correction_keys.request_id,
        corrections_keyed.dimension,
        corrections_keyed.value,
        correction_keys.match_rank,
        corrections_keyed.valid_from

    from correction_keys
    inner join corrections_keyed
        on correction_keys.match_kind = corrections_keyed.match_kind
        and correction_keys.match_key = corrections_keyed.match_key
        and {{ effective_on('correction_keys.usage_date', 'corrections_keyed') }}

),

corrections_ranked as (

    select
        *,
        row_number() over (
            partition by request_id, dimension
            order by match_rank, valid_from desc, value
        ) as correction_rank
    from correction_matches

),

corrections_per_request as (

    select
        request_id,
        {% for d in dims -%}
        max(case when dimension = '{{ d }}' then value end) as corrected_{{ d }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from corrections_ranked
    where correction_rank = 1
    group by request_id

),

settled as (

    select
        with_tasks.*,
        corrections_per_request.request_id is not null as is_tag_corrected,
        coalesce(corrections_per_request.corrected_feature, with_tasks.feature) as settled_feature,
        coalesce(
            corrections_per_request.corrected_workflow,
            case when with_tasks.is_sub_task then with_tasks.root_workflow end,
            with_tasks.workflow,
            with_tasks.root_workflow
        ) as settled_workflow,
        coalesce(corrections_per_request.corrected_team, with_tasks.team) as settled_team,
        coalesce(corrections_per_request.corrected_employee_id, with_tasks.employee_id) as settled_employee_id,
        coalesce(corrections_per_request.corrected_customer_id, with_tasks.customer_id) as settled_customer_id

    from with_tasks
    left join corrections_per_request
        on with_tasks.request_id = corrections_per_request.request_id

),

tagged_requests as (

    -- the settled tags in their canonical spelling
    select
        settled.request_id,
        settled.occurred_at,
        settled.usage_date,
        settled.provider,
        settled.model,
        settled.api_key_id,
        settled.project_id,
        settled.uncached_input_tokens,
        settled.cache_read_input_tokens,
        settled.cache_write_5m_input_tokens,
        settled.cache_write_1h_input_tokens,
        settled.output_tokens,
        settled.total_tokens,
        settled.is_batch,
        settled.service_tier,
        settled.task_id,
        settled.root_task_id,
        settled.is_sub_task,
        settled.is_tag_corrected,
        settled.source_system,
        coalesce(alias_gateway_team.canonical, settled.gateway_team) as gateway_team,
        {% for d in dims -%}
        coalesce(alias_{{ d }}.canonical, settled.settled_{{ d }}) as {{ d }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from settled
    {% for d in dims -%}
    left join tag_aliases as alias_{{ d }}
        on alias_{{ d }}.dimension = '{{ d }}'
        and settled.settled_{{ d }} = alias_{{ d }}.alias
    {% endfor -%}
    left join tag_aliases as alias_gateway_team
        on alias_gateway_team.dimension = 'team'
        and settled.gateway_team = alias_gateway_team.alias

),

requests as (

    -- a request that did not log its project is placed in the one project its key is used in
    select
        tagged_requests.request_id,
        tagged_requests.occurred_at,
        tagged_requests.usage_date,
        tagged_requests.provider,
        tagged_requests.model,
        tagged_requests.api_key_id,
        coalesce(tagged_requests.project_id, key_projects.project_id) as project_id,
        tagged_requests.project_id is null and key_projects.project_id is not null as is_project_inferred,
        tagged_requests.uncached_input_tokens,
        tagged_requests.cache_read_input_tokens,
        tagged_requests.cache_write_5m_input_tokens,
        tagged_requests.cache_write_1h_input_tokens,
        tagged_requests.output_tokens,
        tagged_requests.total_tokens,
        tagged_requests.is_batch,
        tagged_requests.service_tier,
        tagged_requests.feature,
        tagged_requests.workflow,
        tagged_requests.task_id,
        tagged_requests.root_task_id,
        tagged_requests.is_sub_task,
        tagged_requests.is_tag_corrected,
        tagged_requests.team,
        tagged_requests.employee_id,
        tagged_requests.customer_id,
        tagged_requests.gateway_team,
        tagged_requests.source_system

    from tagged_requests
    left join key_projects
        on tagged_requests.provider = key_projects.provider
        and tagged_requests.api_key_id = key_projects.api_key_id

),

priced as (

    select
        requests.*,
        models.priced_model,
        coalesce(models.model_key, requests.model) as model_key,
        {{ list_cost_usd('requests', 'prices') }} as estimated_cost_usd

    from requests
    left join models
        on requests.provider = models.provider
        and requests.model = models.model
    left join prices
        on requests.usage_date = prices.usage_date
        and requests.provider = prices.provider
        and requests.model = prices.model
        and requests.service_tier = prices.service_tier
        -- events carry no context window: an Anthropic request with > 200k input tokens is long-context
        -- (the same key int_prices_resolved derives for events); any other request takes the 'all' price
        and coalesce(prices.context_window, 'all') = coalesce({{ event_context_window('requests.') }}, 'all')
        and requests.is_batch = prices.is_batch

),

with_owners as (

    select
        priced.*,
        owners.key_name,
        owners.project_name,
        owners.owner_feature,
        owners.owner_workflow,
        owners.owner_team,
        owners.owner_employee_id,
        owners.owner_attribution_method

    from priced
    left join owners
        on priced.usage_date = owners.usage_date
        and priced.provider = owners.provider
        and {{ null_safe_equal('priced.project_id', 'owners.project_id') }}
        and {{ null_safe_equal('priced.api_key_id', 'owners.api_key_id') }}

),

request_days as (

    select distinct usage_date
    from {{ ref('stg_events__requests') }}
    where {{ in_rebuild_scope('usage_date') }}

),

employee_days as (

    -- each employee's team on each day: looked up per employee and day, not per request (the latest
    -- stint wins if the roster ever overlapped)
    select employee_id, usage_date, team
    from (
        select
            roster.employee_id,
            request_days.usage_date,
            roster.team,
            row_number() over (
                partition by roster.employee_id, request_days.usage_date
                order by roster.valid_from desc
            ) as roster_rank
        from roster
        inner join request_days
            on {{ effective_on('request_days.usage_date', 'roster') }}
    ) as ranked
    where roster_rank = 1

),

with_tagged_employee_team as (

    select
        with_owners.*,
        employee_days.team as tagged_employee_team

    from with_owners
    left join employee_days
        on with_owners.employee_id = employee_days.employee_id
        and with_owners.usage_date = employee_days.usage_date

),

attributed as (

    select
        *,
        coalesce(feature, workflow, team, employee_id) is not null as has_request_tag,
        coalesce(feature, owner_feature) as resolved_feature,
        coalesce(workflow, owner_workflow) as resolved_workflow,
        coalesce(team, tagged_employee_team, gateway_team, owner_team) as resolved_team,
        coalesce(employee_id, owner_employee_id) as resolved_employee_id

    from with_tagged_employee_team

),

final as (

    select
        request_id,
        occurred_at,
        usage_date,
        provider,
        project_id,
        is_project_inferred,
        api_key_id,
        model,
        model_key,
        priced_model,
        is_batch,
        service_tier,
        task_id,
        root_task_id,
        is_sub_task,
        customer_id,
        source_system,
        is_tag_corrected,
        uncached_input_tokens,
        cache_read_input_tokens,
        cache_write_5m_input_tokens,
        cache_write_1h_input_tokens,
        output_tokens,
        total_tokens,
        estimated_cost_usd,
        estimated_cost_usd is null as is_unpriced,
        feature as tagged_feature,
        workflow as tagged_workflow,
        team as tagged_team,
        employee_id as tagged_employee_id,
        gateway_team,
        key_name,
        project_name,
        resolved_feature as feature,
        resolved_workflow as workflow,
        resolved_team as team,
        resolved_employee_id as employee_id,
        case
            when has_request_tag then 'request_tag'
            when gateway_team is not null then 'gateway_team'
            else coalesce(owner_attribution_method, 'untagged')
        end as attribution_method

    from attributed

)

select * from final
