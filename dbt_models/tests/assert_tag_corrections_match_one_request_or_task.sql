-- Every tag correction names exactly one request (request_id) or one task (task_id): a row with both
-- would be ambiguous, a row with neither would match nothing. Returns the offending rows.
select *
from {{ ref('tag_corrections') }}
where (nullif(trim(request_id), '') is null) = (nullif(trim(task_id), '') is null)
