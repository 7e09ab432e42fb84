{{ config(meta={'dagster': {'ref': {'name': 'budgets'}}}) }}
-- Every budget names a feature, workflow or team its seed knows: a typo in a scope would otherwise be
-- a budget that silently never sees any spend. Returns the budget rows whose scope is unknown.
with

budgets as (

    select
        lower(trim(scope_type)) as scope_type,
        {{ normalize_tag('scope') }} as scope,
        valid_from
    from {{ ref('budgets') }}

),

known_scopes as (

    select 'feature' as scope_type, {{ normalize_tag('feature') }} as scope from {{ ref('features') }}
    union all
    select 'workflow' as scope_type, {{ normalize_tag('workflow') }} as scope from {{ ref('workflows') }}
    union all
    select 'team' as scope_type, {{ normalize_tag('team') }} as scope from {{ ref('teams') }}

)

select budgets.*
from budgets
left join known_scopes
    on budgets.scope_type = known_scopes.scope_type
    and budgets.scope = known_scopes.scope
where known_scopes.scope is null
