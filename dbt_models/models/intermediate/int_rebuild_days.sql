-- One row per usage_date the incremental models rebuild in this build (see macros/incremental.sql):
--   is_raw_change  the day's raw data changed since the last complete build, or the day is one that a
--                  change reaches: another copy of a request seen on a changed day (the winning copy
--                  may move between days), a request in a task tree touched by a changed day's
--                  requests or outcomes (a sub-task's workflow comes from its root), or one of the last
--                  TOKENSPEND_LOOKBACK_DAYS days (default 3) of data
--   otherwise      rebuilt because the seeds that price or attribute history changed: every day
-- Every day is rebuilt, with is_raw_change true, when the project's code changed or no build has
-- committed yet. Models that read only raw data take the is_raw_change days; the others take all.
with

current_fingerprints as (

    select * from {{ ref('int_raw_day_fingerprints') }}

),

committed_fingerprints as (

    select * from {{ rebuild_state_relation() }}

),

task_tree as (

    select * from {{ ref('int_task_tree') }}

),

raw_requests as (

    select
        request_id,
        cast(occurred_at as date) as usage_date,
        {{ request_tag('task_id') }} as task_id
    from {{ ref('stg_events__request_copies') }}

),

raw_outcomes as (

    select
        cast(completed_at as date) as usage_date,
        {{ normalize_tag_value('task_id') }} as task_id,
        {{ normalize_tag_value('parent_task_id') }} as parent_task_id
    from {{ source('raw', 'outcome_events') }}

),

compared as (

    select
        coalesce(current_fingerprints.source_name, committed_fingerprints.source_name) as source_name,
        coalesce(current_fingerprints.usage_date, committed_fingerprints.usage_date) as usage_date,
        not (
            {{ null_safe_equal('current_fingerprints.row_count', 'committed_fingerprints.row_count') }}
            and {{ null_safe_equal('current_fingerprints.fingerprint', 'committed_fingerprints.fingerprint') }}
        ) as is_changed

    from current_fingerprints
    full outer join committed_fingerprints
        on current_fingerprints.source_name = committed_fingerprints.source_name
        and {{ null_safe_equal('current_fingerprints.usage_date', 'committed_fingerprints.usage_date') }}

),

modes as (

    select
        -- nothing committed yet, or the code changed: rebuild everything
        max(case when source_name = 'code' and not is_changed then 1 else 0 end) = 0 as is_full,
        coalesce(max(case when source_name like 'seed:%' and is_changed then 1 else 0 end), 0) = 1 as is_seed_change

    from compared

),

changed_days as (

    select distinct source_name, usage_date
    from compared
    where is_changed and usage_date is not null

),

copy_days as (

    -- every day on which a request seen on a changed day has a copy
    select distinct raw_requests.usage_date
    from raw_requests
    where raw_requests.request_id in (
        select changed_requests.request_id
        from raw_requests as changed_requests
        inner join changed_days
            on changed_days.source_name in ({{ "'" ~ request_raw_tables() | join("', '") ~ "'" }})
            and changed_requests.usage_date = changed_days.usage_date
    )

),

touched_tasks as (

    select raw_requests.task_id
    from raw_requests
    inner join changed_days
        on changed_days.source_name in ({{ "'" ~ request_raw_tables() | join("', '") ~ "'" }})
        and raw_requests.usage_date = changed_days.usage_date
    where raw_requests.task_id is not null

    union all

    select raw_outcomes.task_id
    from raw_outcomes
    inner join changed_days
        on changed_days.source_name = 'outcome_events'
        and raw_outcomes.usage_date = changed_days.usage_date

    union all

    select raw_outcomes.parent_task_id
    from raw_outcomes
    inner join changed_days
        on changed_days.source_name = 'outcome_events'
        and raw_outcomes.usage_date = changed_days.usage_date
    where raw_outcomes.parent_task_id is not null

),

touched_roots as (

    -- the root of each touched task (a task no outcome knows is its own root)
    select distinct coalesce(task_tree.root_task_id, touched_tasks.task_id) as root_task_id
    from touched_tasks
    left join task_tree
        on touched_tasks.task_id = task_tree.task_id

),

tree_tasks as (

    select task_tree.task_id
    from task_tree
    inner join touched_roots
        on task_tree.root_task_id = touched_roots.root_task_id

    union all

    select root_task_id from touched_roots

),

tree_days as (

    select distinct raw_requests.usage_date
    from raw_requests
    where raw_requests.task_id in (select task_id from tree_tasks)

),

latest_day as (

    select max(usage_date) as usage_date
    from current_fingerprints
    where usage_date is not null

),

lookback_days as (

    select distinct current_fingerprints.usage_date
    from current_fingerprints
    cross join latest_day
    where current_fingerprints.usage_date
        > cast({{ dbt.dateadd('day', -1 * lookback_days(), 'latest_day.usage_date') }} as date)

),

all_days as (

    -- every day any raw table has now or had at the last committed build
    select distinct usage_date
    from compared
    where usage_date is not null

),

raw_change_days as (

    select usage_date from changed_days
    union all
    select usage_date from copy_days
    union all
    select usage_date from tree_days
    union all
    select usage_date from lookback_days

),

final as (

    select
        all_days.usage_date,
        modes.is_full or all_days.usage_date in (select usage_date from raw_change_days) as is_raw_change

    from all_days
    cross join modes
    where modes.is_full
        or modes.is_seed_change
        or all_days.usage_date in (select usage_date from raw_change_days)

)

select * from final
