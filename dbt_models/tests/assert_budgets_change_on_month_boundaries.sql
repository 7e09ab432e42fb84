-- Budgets are monthly: mart_budget_status applies the row in force on a month's first day, so a row
-- that starts or ends mid-month would silently take effect only the next month. valid_from and
-- valid_to (when set) must be the first of a month. Returns the offending rows.
select *
from {{ ref('budgets') }}
where valid_from <> cast({{ dbt.date_trunc('month', 'valid_from') }} as date)
    or (valid_to is not null and valid_to <> cast({{ dbt.date_trunc('month', 'valid_to') }} as date))
