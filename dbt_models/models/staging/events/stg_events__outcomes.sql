-- One row per task_id: its final outcome. A task reported more than once keeps the LATEST
-- completed_at (ties: the latest loaded copy). Task ids and workflows take the request tags' spelling
-- (normalize_tag_value), so outcomes and requests join. A table: the task trees and every test read it.
{{ config(materialized='table') }}
with

source as (

    select * from {{ source('raw', 'outcome_events') }}

),

normalized as (

    select
        {{ normalize_tag_value('task_id') }} as task_id,
        {{ normalize_tag_value('parent_task_id') }} as parent_task_id,
        {{ normalize_tag_value('workflow') }} as workflow,
        completed_at,
        {{ normalize_tag('outcome') }} as outcome,
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by task_id
            order by completed_at desc, _loaded_at desc, _source_file desc, _source_line desc
        ) as outcome_rank

    from normalized

),

final as (

    select
        task_id,
        parent_task_id,
        workflow,
        completed_at,
        cast(completed_at as date) as completed_date,
        outcome,
        coalesce(outcome = 'success', false) as is_success,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where outcome_rank = 1

)

select * from final
