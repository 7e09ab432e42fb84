-- One row per logged request (request_id, as deduplicated in stg_events__requests): its model_key,
-- estimated list cost and attribution.
--
-- Attribution, per dimension (feature, workflow, team, employee_id), by precedence:
--   1. request tag;   a tagged employee_id with no team tag takes the employee's team ON THAT DATE
--   2. API key owner  (api_key_owners in force on the request date)
--   3. project owner  (project_owners in force on the request date)
--   4. nothing        -> null
-- attribution_method names the highest-precedence rule that supplied ANY dimension
-- (request_tag, api_key_owner, project_owner, untagged).
with

logged_requests as (

    select * from {{ ref('stg_events__requests') }}

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

    select
        {{ normalize_tag('employee_id') }} as employee_id,
        {{ normalize_tag('team') }} as team,
        valid_from,
        valid_to
    from {{ ref('employees') }}

),

requests as (

    -- a request that did not log its project is placed in the one project its key is used in
    select
        logged_requests.request_id,
        logged_requests.occurred_at,
        logged_requests.usage_date,
        logged_requests.provider,
        logged_requests.model,
        logged_requests.api_key_id,
        coalesce(logged_requests.project_id, key_projects.project_id) as project_id,
        logged_requests.project_id is null and key_projects.project_id is not null as is_project_inferred,
        logged_requests.uncached_input_tokens,
        logged_requests.cache_read_input_tokens,
        logged_requests.cache_write_5m_input_tokens,
        logged_requests.cache_write_1h_input_tokens,
        logged_requests.output_tokens,
        logged_requests.total_tokens,
        logged_requests.is_batch,
        logged_requests.service_tier,
        logged_requests.feature,
        logged_requests.workflow,
        logged_requests.task_id,
        logged_requests.team,
        logged_requests.employee_id,
        logged_requests.customer_id,
        logged_requests.source_system

    from logged_requests
    left join key_projects
        on logged_requests.provider = key_projects.provider
        and logged_requests.api_key_id = key_projects.api_key_id

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
        and prices.context_window is null
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

with_tagged_employee_team as (

    select
        with_owners.*,
        roster.team as tagged_employee_team,
        row_number() over (
            partition by with_owners.request_id
            order by roster.valid_from desc
        ) as roster_rank

    from with_owners
    left join roster
        on with_owners.employee_id = roster.employee_id
        and {{ effective_on('with_owners.usage_date', 'roster') }}

),

attributed as (

    select
        *,
        coalesce(feature, workflow, team, employee_id) is not null as has_request_tag,
        coalesce(feature, owner_feature) as resolved_feature,
        coalesce(workflow, owner_workflow) as resolved_workflow,
        coalesce(team, tagged_employee_team, owner_team) as resolved_team,
        coalesce(employee_id, owner_employee_id) as resolved_employee_id

    from with_tagged_employee_team
    where roster_rank = 1

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
        customer_id,
        source_system,
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
        key_name,
        project_name,
        resolved_feature as feature,
        resolved_workflow as workflow,
        resolved_team as team,
        resolved_employee_id as employee_id,
        case
            when has_request_tag then 'request_tag'
            else coalesce(owner_attribution_method, 'untagged')
        end as attribution_method

    from attributed

)

select * from final
