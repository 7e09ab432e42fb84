-- One row per provider x api_key_id that provider usage shows in exactly ONE project (OpenAI project /
-- Anthropic workspace; a key belongs to one). Used to place logged requests that did not log their
-- project: guessing (e.g. "no workspace = default workspace") would move their cost into another
-- project's cell, so a key seen in several projects, or never seen, places nothing.
with

key_projects as (

    select
        provider,
        api_key_id,
        min(project_id) as project_id,
        count(distinct project_id) as project_count

    from {{ ref('int_provider_usage_unioned') }}
    where api_key_id is not null
        and project_id is not null
    group by provider, api_key_id

),

final as (

    select provider, api_key_id, project_id
    from key_projects
    where project_count = 1

)

select * from final
