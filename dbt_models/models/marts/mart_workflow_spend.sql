-- One row per workflow x period (calendar month, period_start = first day): what the workflow's LLM
-- spend bought. Spend attributed to no workflow is kept as workflow '(unattributed)' so the mart
-- sums to the billed total.
--   tasks_started    ROOT tasks whose first logged request (of the task or any of its sub-tasks)
--                    falls in the period
--   completed_tasks  root tasks whose outcome (stg_events__outcomes, one per task) completed in the period
--   successful_tasks completed root tasks with outcome success
--   follow_up_tasks  completed sub-tasks (parent_task_id set, e.g. started by a sub-agent), reported
--                    under their root task's workflow; they are not counted as tasks of their own
-- Tasks roll up to their root (int_task_roots): a sub-task's requests are the root task's requests.
-- A task's workflow is its root outcome's workflow, else the workflow of its requests.
-- Cost per completed task compares a period's spend with the root tasks completed in that period.
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

requests as (

    select * from {{ ref('int_request_events_attributed') }}

),

outcomes as (

    select * from {{ ref('stg_events__outcomes') }}

),

task_roots as (

    select * from {{ ref('int_task_roots') }}

),

workflows as (

    select
        {{ normalize_tag('workflow') }} as workflow,
        workflow_name,
        {{ normalize_tag('owner_team') }} as owner_team,
        is_production,
        automated_since
    from {{ ref('workflows') }}

),

baselines as (

    -- the most recent measurement per workflow
    select
        {{ normalize_tag('workflow') }} as workflow,
        baseline_cost_per_task_usd,
        row_number() over (
            partition by {{ normalize_tag('workflow') }}
            order by measured_to desc, measured_from desc
        ) as baseline_rank
    from {{ ref('workflow_baselines') }}

),

spend_by_workflow as (

    select
        coalesce(workflow, '(unattributed)') as workflow,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start,
        sum(cost_usd) as cost_usd,
        {{ sum_count("case when record_type = 'request' then request_count else 0 end") }} as requests

    from spend
    group by 1, 2

),

outcomes_rooted as (

    select
        outcomes.*,
        coalesce(task_roots.is_sub_task, false) as is_sub_task,
        task_roots.root_workflow

    from outcomes
    left join task_roots
        on outcomes.task_id = task_roots.task_id

),

task_requests as (

    -- every request of a task tree counts for its root task
    select
        root_task_id as task_id,
        min(occurred_at) as started_at,
        min(workflow) as request_workflow

    from requests
    where root_task_id is not null
    group by root_task_id

),

root_outcomes as (

    select * from outcomes_rooted where not is_sub_task

),

workflow_aliases as (

    select
        {{ normalize_tag_value('alias') }} as alias,
        {{ normalize_tag_value('canonical') }} as canonical
    from {{ ref('tag_aliases') }}
    where {{ normalize_tag_value('dimension') }} = 'workflow'

),

tasks as (

    select
        coalesce(task_requests.task_id, root_outcomes.task_id) as task_id,
        -- the task counts where its spend is attributed: its requests' settled workflow (tags,
        -- corrections and aliases applied), else the outcome's workflow through the same aliases
        coalesce(
            task_requests.request_workflow, workflow_aliases.canonical, root_outcomes.workflow, '(unattributed)'
        ) as workflow,
        task_requests.started_at,
        root_outcomes.completed_at,
        root_outcomes.is_success

    from task_requests
    full outer join root_outcomes
        on task_requests.task_id = root_outcomes.task_id
    left join workflow_aliases
        on root_outcomes.workflow = workflow_aliases.alias

),

sub_tasks as (

    select
        coalesce(root_workflow, workflow, '(unattributed)') as workflow,
        completed_at

    from outcomes_rooted
    where is_sub_task

),

started_by_workflow as (

    select
        workflow,
        cast({{ dbt.date_trunc('month', 'started_at') }} as date) as period_start,
        count(*) as tasks_started

    from tasks
    where started_at is not null
    group by 1, 2

),

completed_by_workflow as (

    select
        workflow,
        cast({{ dbt.date_trunc('month', 'completed_at') }} as date) as period_start,
        count(*) as completed_tasks,
        {{ sum_count('case when is_success then 1 else 0 end') }} as successful_tasks

    from tasks
    where completed_at is not null
    group by 1, 2

),

follow_ups_by_workflow as (

    select
        workflow,
        cast({{ dbt.date_trunc('month', 'completed_at') }} as date) as period_start,
        count(*) as follow_up_tasks

    from sub_tasks
    group by 1, 2

),

periods as (

    -- union all + distinct: BigQuery has no bare UNION
    select distinct * from (
        select workflow, period_start from spend_by_workflow
        union all
        select workflow, period_start from started_by_workflow
        union all
        select workflow, period_start from completed_by_workflow
        union all
        select workflow, period_start from follow_ups_by_workflow
    ) as unioned

),

joined as (

    select
        periods.workflow,
        periods.period_start,
        coalesce(spend_by_workflow.cost_usd, cast(0 as {{ money_type() }})) as cost_usd,
        coalesce(spend_by_workflow.requests, 0) as requests,
        coalesce(started_by_workflow.tasks_started, 0) as tasks_started,
        coalesce(completed_by_workflow.completed_tasks, 0) as completed_tasks,
        coalesce(completed_by_workflow.successful_tasks, 0) as successful_tasks,
        coalesce(follow_ups_by_workflow.follow_up_tasks, 0) as follow_up_tasks

    from periods
    left join spend_by_workflow
        on periods.workflow = spend_by_workflow.workflow
        and periods.period_start = spend_by_workflow.period_start
    left join started_by_workflow
        on periods.workflow = started_by_workflow.workflow
        and periods.period_start = started_by_workflow.period_start
    left join completed_by_workflow
        on periods.workflow = completed_by_workflow.workflow
        and periods.period_start = completed_by_workflow.period_start
    left join follow_ups_by_workflow
        on periods.workflow = follow_ups_by_workflow.workflow
        and periods.period_start = follow_ups_by_workflow.period_start

),

final as (

    select
        joined.workflow,
        joined.period_start,
        joined.workflow <> '(unattributed)' as is_attributed,
        workflows.workflow_name,
        workflows.owner_team,
        workflows.is_production,
        workflows.automated_since,
        joined.cost_usd,
        joined.requests,
        joined.tasks_started,
        joined.completed_tasks,
        joined.successful_tasks,
        joined.follow_up_tasks,
        {{ safe_ratio('joined.successful_tasks', 'joined.completed_tasks') }} as success_rate,
        {{ divide_money('joined.cost_usd', 'joined.completed_tasks') }} as cost_per_completed_task_usd,
        {{ divide_money('joined.cost_usd', 'joined.successful_tasks') }} as cost_per_successful_outcome_usd,
        baselines.baseline_cost_per_task_usd,
        {{ divide_money('joined.cost_usd', 'joined.completed_tasks') }} - baselines.baseline_cost_per_task_usd
            as cost_difference_per_task_usd

    from joined
    left join workflows
        on joined.workflow = workflows.workflow
    left join baselines
        on joined.workflow = baselines.workflow
        and baselines.baseline_rank = 1

)

select * from final
