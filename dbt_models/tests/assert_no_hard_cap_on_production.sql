{{ config(meta={'dagster': {'ref': {'name': 'budgets'}}}) }}
-- Production is never hard-capped: a hard cap that a gateway enforces would turn a budget overrun into
-- an outage of a production feature or workflow. A hard_cap budget is allowed only on a feature or
-- workflow whose seed row says is_production = false (discretionary employee tooling). Team hard caps
-- are refused: a team owns production workflows too, and a cap on the team would block them. A scope
-- missing from its seed is refused as well (it is not known to be non-production). Returns the
-- offending budget rows with the reason.
with

budgets as (

    select
        lower(trim(scope_type)) as scope_type,
        {{ normalize_tag('scope') }} as scope,
        lower(trim(policy)) as policy,
        valid_from
    from {{ ref('budgets') }}

),

features as (

    select {{ normalize_tag('feature') }} as feature, is_production
    from {{ ref('features') }}

),

workflows as (

    select {{ normalize_tag('workflow') }} as workflow, is_production
    from {{ ref('workflows') }}

),

hard_caps as (

    select
        budgets.scope_type,
        budgets.scope,
        budgets.valid_from,
        case budgets.scope_type
            when 'feature' then features.is_production
            when 'workflow' then workflows.is_production
        end as is_production,
        case budgets.scope_type
            when 'feature' then features.feature
            when 'workflow' then workflows.workflow
        end as known_scope

    from budgets
    left join features
        on budgets.scope_type = 'feature'
        and budgets.scope = features.feature
    left join workflows
        on budgets.scope_type = 'workflow'
        and budgets.scope = workflows.workflow
    where budgets.policy = 'hard_cap'

),

final as (

    select
        scope_type,
        scope,
        valid_from,
        case
            when scope_type = 'team' then 'hard_cap on a team (teams own production workflows)'
            when known_scope is null then 'hard_cap on a scope missing from the features/workflows seed'
            when is_production is null then 'hard_cap on a scope whose is_production is not set'
            else 'hard_cap on a production scope'
        end as problem

    from hard_caps
    where scope_type not in ('feature', 'workflow')
        or known_scope is null
        or is_production is null
        or is_production

)

select * from final
