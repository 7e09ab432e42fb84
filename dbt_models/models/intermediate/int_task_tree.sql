-- One row per task known from outcomes (a task_id, or a parent_task_id that reported no outcome of
-- its own): the ROOT task it rolls up to, from outcomes alone. A sub-agent's task names the task that
-- started it (parent_task_id); following parents up to a task with none gives the root, whose workflow
-- the whole tree's requests are attributed to (int_task_roots adds it). int_rebuild_days uses the tree
-- to find every request a new outcome or request can re-attribute.
--
-- Portable: the chain is followed by a bounded number of self-joins (var task_root_max_depth, default
-- 10), not a recursive CTE. A chain longer than that, or a cycle, stops there: is_root_resolved is
-- false and root_task_id is the furthest ancestor reached (a warn-level test reports such tasks).
{%- set max_depth = var('task_root_max_depth', 10) | int %}
with

outcomes as (

    select * from {{ ref('stg_events__outcomes') }}

),

tasks as (

    select task_id, parent_task_id, workflow
    from outcomes

    union all

    -- a parent that never reported an outcome is still a task (one without a known parent)
    select distinct
        parent_task_id as task_id,
        cast(null as {{ dbt.type_string() }}) as parent_task_id,
        cast(null as {{ dbt.type_string() }}) as workflow
    from outcomes
    where parent_task_id is not null
        and parent_task_id not in (select task_id from outcomes)

),

ancestors as (

    -- ancestor_k = the task k levels up; null once the chain has ended
    select
        t0.task_id,
        t0.parent_task_id,
        t0.workflow,
        {% for k in range(1, max_depth + 1) -%}
        t{{ k - 1 }}.parent_task_id as ancestor_{{ k }},
        {% endfor -%}
        t{{ max_depth }}.parent_task_id is not null as is_chain_cut

    from tasks as t0
    {% for k in range(1, max_depth + 1) -%}
    left join tasks as t{{ k }}
        on t{{ k }}.task_id = t{{ k - 1 }}.parent_task_id
    {% endfor %}

),

rooted as (

    select
        task_id,
        parent_task_id,
        workflow,
        coalesce({% for k in range(max_depth, 0, -1) %}ancestor_{{ k }}, {% endfor %}task_id) as root_task_id,
        {% for k in range(1, max_depth + 1) -%}
        case when ancestor_{{ k }} is not null then 1 else 0 end{% if not loop.last %} + {% endif %}
        {%- endfor %} as task_depth,
        not is_chain_cut as is_root_resolved

    from ancestors

),

final as (

    select
        rooted.task_id,
        rooted.parent_task_id,
        rooted.root_task_id,
        rooted.task_depth,
        rooted.task_depth > 0 as is_sub_task,
        rooted.is_root_resolved,
        rooted.workflow

    from rooted

)

select * from final
