{{ config(meta={'dagster': {'ref': {'name': 'int_request_events_attributed'}}}) }}
-- int_request_events_attributed has exactly one row per request of stg_events__requests: no request
-- lost by a join, none duplicated by an overlapping owner, price or roster row. Returns the
-- request_ids that occur other than once on either side.
with

staged as (

    select request_id, count(*) as staged_rows
    from {{ ref('stg_events__requests') }}
    group by request_id

),

attributed as (

    select request_id, count(*) as attributed_rows
    from {{ ref('int_request_events_attributed') }}
    group by request_id

)

select
    coalesce(staged.request_id, attributed.request_id) as request_id,
    staged.staged_rows,
    attributed.attributed_rows

from staged
full outer join attributed
    on staged.request_id = attributed.request_id
where staged.staged_rows is null
    or attributed.attributed_rows is null
    or staged.staged_rows <> 1
    or attributed.attributed_rows <> 1
