-- One row per task known from outcomes (int_task_tree): the ROOT task it rolls up to and the root's
-- workflow, which a sub-task's requests are attributed to: the root's outcome workflow, else the
-- workflow the root's own requests are tagged with.
with

tree as (

    select * from {{ ref('int_task_tree') }}

),

requests as (

    select * from {{ ref('stg_events__requests') }}

),

request_workflows as (

    -- the workflow a task's own requests are tagged with (the smallest, if they disagree)
    select task_id, min(workflow) as workflow
    from requests
    where task_id is not null and workflow is not null
    group by task_id

),

final as (

    select
        tree.task_id,
        tree.parent_task_id,
        tree.root_task_id,
        tree.task_depth,
        tree.is_sub_task,
        tree.is_root_resolved,
        tree.workflow,
        coalesce(roots.workflow, root_requests.workflow) as root_workflow

    from tree
    left join tree as roots
        on tree.root_task_id = roots.task_id
    left join request_workflows as root_requests
        on tree.root_task_id = root_requests.task_id

)

select * from final
