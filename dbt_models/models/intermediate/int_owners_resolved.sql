-- One row per usage_date x provider x project_id x api_key_id seen in request events, provider usage or
-- billed costs: who owns that key and that project ON THAT DATE, per the effective-dated seeds
-- api_key_owners and project_owners (valid_from inclusive, valid_to exclusive), and the owner-level
-- attribution (API key owner, then project owner) used when a request carries no tag.
with

event_keys as (

    -- the project a request is placed in, exactly as int_request_events_attributed places it
    select distinct
        requests.usage_date,
        requests.provider,
        coalesce(requests.project_id, key_projects.project_id) as project_id,
        requests.api_key_id
    from {{ ref('stg_events__requests') }} as requests
    left join {{ ref('int_api_key_projects') }} as key_projects
        on requests.provider = key_projects.provider
        and requests.api_key_id = key_projects.api_key_id

),

usage_keys as (

    select distinct usage_date, provider, project_id, api_key_id
    from {{ ref('int_provider_usage_unioned') }}

),

cost_keys as (

    select distinct usage_date, provider, project_id, api_key_id
    from {{ ref('int_billed_costs_unioned') }}

),

owner_keys as (

    -- union all + distinct: BigQuery has no bare UNION
    select distinct * from (
        select * from event_keys
        union all
        select * from usage_keys
        union all
        select * from cost_keys
    ) as unioned

),

api_key_owners as (

    select
        lower(trim(provider)) as provider,
        trim(api_key_id) as api_key_id,
        key_name,
        {{ normalize_tag('team') }} as team,
        {{ normalize_tag('feature') }} as feature,
        {{ normalize_tag('workflow') }} as workflow,
        {{ normalize_tag('employee_id') }} as employee_id,
        valid_from,
        valid_to
    from {{ ref('api_key_owners') }}

),

project_owners as (

    select
        lower(trim(provider)) as provider,
        trim(project_id) as project_id,
        project_name,
        {{ normalize_tag('team') }} as team,
        {{ normalize_tag('feature') }} as feature,
        {{ normalize_tag('workflow') }} as workflow,
        valid_from,
        valid_to
    from {{ ref('project_owners') }}

),

roster as (

    {{ employee_stints() }}

),

-- Each lookup keeps at most one row per key and date (the latest valid_from), so overlapping seed
-- rows can never fan out; the generic test effective_dates_do_not_overlap reports such rows.
with_key_owner as (

    select
        owner_keys.*,
        api_key_owners.key_name,
        api_key_owners.team as key_team,
        api_key_owners.feature as key_feature,
        api_key_owners.workflow as key_workflow,
        api_key_owners.employee_id as key_employee_id,
        row_number() over (
            partition by owner_keys.usage_date, owner_keys.provider, owner_keys.project_id, owner_keys.api_key_id
            order by api_key_owners.valid_from desc
        ) as key_owner_rank

    from owner_keys
    left join api_key_owners
        on owner_keys.provider = api_key_owners.provider
        and owner_keys.api_key_id = api_key_owners.api_key_id
        and {{ effective_on('owner_keys.usage_date', 'api_key_owners') }}

),

with_project_owner as (

    select
        with_key_owner.*,
        project_owners.project_name,
        project_owners.team as project_team,
        project_owners.feature as project_feature,
        project_owners.workflow as project_workflow,
        row_number() over (
            partition by with_key_owner.usage_date, with_key_owner.provider, with_key_owner.project_id, with_key_owner.api_key_id
            order by project_owners.valid_from desc
        ) as project_owner_rank

    from with_key_owner
    left join project_owners
        on with_key_owner.provider = project_owners.provider
        and with_key_owner.project_id = project_owners.project_id
        and {{ effective_on('with_key_owner.usage_date', 'project_owners') }}
    where with_key_owner.key_owner_rank = 1

),

with_key_employee_team as (

    select
        with_project_owner.*,
        roster.team as key_employee_team,
        row_number() over (
            partition by with_project_owner.usage_date, with_project_owner.provider, with_project_owner.project_id, with_project_owner.api_key_id
            order by roster.valid_from desc
        ) as roster_rank

    from with_project_owner
    left join roster
        on with_project_owner.key_employee_id = roster.employee_id
        and {{ effective_on('with_project_owner.usage_date', 'roster') }}
    where with_project_owner.project_owner_rank = 1

),

resolved as (

    select
        usage_date,
        provider,
        project_id,
        api_key_id,
        key_name,
        project_name,
        key_team,
        key_feature,
        key_workflow,
        key_employee_id,
        key_employee_team,
        project_team,
        project_feature,
        project_workflow,
        coalesce(key_team, key_feature, key_workflow, key_employee_id) is not null as key_owner_supplied,
        coalesce(project_team, project_feature, project_workflow) is not null as project_owner_supplied

    from with_key_employee_team
    where roster_rank = 1

),

final as (

    select
        usage_date,
        provider,
        project_id,
        api_key_id,
        key_name,
        project_name,
        key_team,
        key_feature,
        key_workflow,
        key_employee_id,
        key_employee_team,
        project_team,
        project_feature,
        project_workflow,
        -- Owner-level precedence, per dimension: API key owner, then project owner. A key owned by an
        -- employee with no team on the key row takes the employee's team on that date.
        coalesce(key_feature, project_feature) as owner_feature,
        coalesce(key_workflow, project_workflow) as owner_workflow,
        coalesce(key_team, key_employee_team, project_team) as owner_team,
        key_employee_id as owner_employee_id,
        case
            when key_owner_supplied then 'api_key_owner'
            when project_owner_supplied then 'project_owner'
            else 'untagged'
        end as owner_attribution_method

    from resolved

)

select * from final
