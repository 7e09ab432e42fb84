-- One row per team x period (calendar month, period_start = first day): AI seats and the spend
-- attributed to the team. Spend attributed to no team is kept as team '(unattributed)'.
--   seats        employees with has_ai_seat on the team on any day of the period (effective-dated
--                roster: an employee who moved counts on each team only for the dates of that stint)
--   active_seats seat holders with any attributed spend (a fact row with their employee_id) on a day
--                of the period that falls inside their seat stint on this team
--   idle_seats   seats - active_seats
--   idle_seat_names  the idle seat holders by name (roster full_name, else employee_id), sorted
-- spend_per_active_seat_usd = employee_tooling_cost_usd / active_seats (null when no active seat).
with

spend as (

    select * from {{ ref('fct_token_spend') }}

),

roster as (

    {{ employee_stints(['has_ai_seat', 'full_name']) }}

),

teams as (

    select
        {{ normalize_tag('team') }} as team,
        team_name,
        cost_center
    from {{ ref('teams') }}

),

periods as (

    -- the months the warehouse has spend for
    select distinct
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start
    from spend

),

seat_stints as (

    -- each seat stint clipped to each period it overlaps
    select
        roster.team,
        roster.employee_id,
        roster.full_name,
        periods.period_start,
        roster.valid_from,
        roster.valid_to

    from roster
    inner join periods
        on (roster.valid_from is null
            or roster.valid_from < cast({{ dbt.dateadd('month', 1, 'periods.period_start') }} as date))
        and coalesce(roster.valid_to, {{ far_future_date() }}) > periods.period_start
    where roster.has_ai_seat
        and roster.team is not null

),

employee_spend_days as (

    select distinct employee_id, usage_date
    from spend
    where employee_id is not null

),

seat_holders as (

    -- one row per team x period x seat holder: active when any of their stints there had spend
    select
        seat_stints.team,
        seat_stints.period_start,
        seat_stints.employee_id,
        coalesce(max(seat_stints.full_name), seat_stints.employee_id) as employee_name,
        count(employee_spend_days.employee_id) > 0 as is_active

    from seat_stints
    left join employee_spend_days
        on seat_stints.employee_id = employee_spend_days.employee_id
        and {{ effective_on('employee_spend_days.usage_date', 'seat_stints') }}
        and employee_spend_days.usage_date >= seat_stints.period_start
        and employee_spend_days.usage_date < cast({{ dbt.dateadd('month', 1, 'seat_stints.period_start') }} as date)
    group by seat_stints.team, seat_stints.period_start, seat_stints.employee_id

),

seats as (

    select
        team,
        period_start,
        count(*) as seats,
        count(case when is_active then employee_id end) as active_seats,
        -- Spark joins an empty list into '', DuckDB aggregates no value into null
        nullif({{ sorted_listagg('case when not is_active then employee_name end', "', '") }}, '')
            as idle_seat_names

    from seat_holders
    group by team, period_start

),

spend_by_team as (

    select
        coalesce(team, '(unattributed)') as team,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as period_start,
        sum(cost_usd) as cost_usd,
        sum(case when employee_id is not null then cost_usd else 0 end) as employee_tooling_cost_usd

    from spend
    group by 1, 2

),

team_periods as (

    -- union all + distinct: BigQuery has no bare UNION
    select distinct * from (
        select team, period_start from spend_by_team
        union all
        select team, period_start from seats
    ) as unioned

),

final as (

    select
        team_periods.team,
        team_periods.period_start,
        team_periods.team <> '(unattributed)' as is_attributed,
        teams.team_name,
        teams.cost_center,
        coalesce(seats.seats, 0) as seats,
        coalesce(seats.active_seats, 0) as active_seats,
        coalesce(seats.seats, 0) - coalesce(seats.active_seats, 0) as idle_seats,
        seats.idle_seat_names,
        coalesce(spend_by_team.cost_usd, cast(0 as {{ money_type() }})) as cost_usd,
        coalesce(spend_by_team.employee_tooling_cost_usd, cast(0 as {{ money_type() }}))
            as employee_tooling_cost_usd,
        {{ divide_money('spend_by_team.employee_tooling_cost_usd', 'seats.active_seats') }}
            as spend_per_active_seat_usd

    from team_periods
    left join seats
        on team_periods.team = seats.team
        and team_periods.period_start = seats.period_start
    left join spend_by_team
        on team_periods.team = spend_by_team.team
        and team_periods.period_start = spend_by_team.period_start
    left join teams
        on team_periods.team = teams.team

)

select * from final
