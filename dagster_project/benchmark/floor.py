"""The floor: one hand-written DuckDB SQL script that attributes and prices the same event files.

It does what the answer needs and nothing else: read the files, keep one row per `request_id`,
resolve each model id to its price-book model (longest matching pattern), price each token class at
the standard-tier price in force on the request's date (batch multiplier applied), and attribute by
precedence: request tag, then the API key's owner on that day, then the project's owner, else
untagged (a tagged employee with no team tag takes the employee's team on that day, as does a key
held by an employee). The result is a table `fact` at the grain of `marts.fct_token_spend`'s request
rows, with `request_count`, `estimated_cost_usd` (DECIMAL, null when unpriced) and `is_unpriced`.

No tag normalisation, aliases, corrections, sub-task roll-up, service tiers or long-context prices:
the benchmark organisation's traffic needs none of them (its tags are already canonical, it sends no
priority traffic and no request above 200k input tokens), so the floor is the least work that gives
the same answer on it.
"""

from __future__ import annotations

from pathlib import Path

EVENT_COLUMNS = {
    "request_id": "VARCHAR", "occurred_at": "VARCHAR", "provider": "VARCHAR", "model": "VARCHAR",
    "api_key_id": "VARCHAR", "project_id": "VARCHAR", "uncached_input_tokens": "BIGINT",
    "cache_read_input_tokens": "BIGINT", "cache_write_input_tokens": "BIGINT", "output_tokens": "BIGINT",
    "batch": "BOOLEAN", "service_tier": "VARCHAR", "feature": "VARCHAR", "workflow": "VARCHAR",
    "task_id": "VARCHAR", "team": "VARCHAR", "employee_id": "VARCHAR", "customer_id": "VARCHAR",
}


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"


def events_reader(landing: Path, fmt: str) -> str:
    """DuckDB's plain reader over every event file under `landing/events`, in `fmt` (jsonl or parquet)."""
    if fmt == "jsonl":
        return (f"read_json('{landing}/events/**/*.jsonl', format = 'newline_delimited', "
                f"columns = {_struct(EVENT_COLUMNS)}, hive_partitioning = false)")
    if fmt == "parquet":
        return f"read_parquet('{landing}/events/**/*.parquet', hive_partitioning = false)"
    raise ValueError(f"unknown event format {fmt!r}")


def _seed(seeds: Path, name: str, columns: dict[str, str]) -> str:
    return (f"read_csv('{seeds}/{name}.csv', header = true, auto_detect = false, "
            f"columns = {_struct(columns)})")


_OWNER = {"provider": "VARCHAR", "api_key_id": "VARCHAR", "key_name": "VARCHAR", "team": "VARCHAR",
          "feature": "VARCHAR", "workflow": "VARCHAR", "employee_id": "VARCHAR", "valid_from": "DATE",
          "valid_to": "DATE"}
_PROJECT = {"provider": "VARCHAR", "project_id": "VARCHAR", "project_name": "VARCHAR", "team": "VARCHAR",
            "feature": "VARCHAR", "workflow": "VARCHAR", "valid_from": "DATE", "valid_to": "DATE"}
_EMPLOYEE = {"employee_id": "VARCHAR", "email": "VARCHAR", "full_name": "VARCHAR", "team": "VARCHAR",
             "has_ai_seat": "BOOLEAN", "valid_from": "DATE", "valid_to": "DATE"}
_PRICE = {"provider": "VARCHAR", "model": "VARCHAR", "match_pattern": "VARCHAR", "token_class": "VARCHAR",
          "usd_per_million_tokens": "DECIMAL(38,9)", "service_tier": "VARCHAR", "context_window": "VARCHAR",
          "batch_multiplier": "DECIMAL(38,9)", "valid_from": "DATE", "valid_to": "DATE", "source": "VARCHAR"}
_CLASSES = {"uncached_input": "uncached_input_tokens", "cache_read_input": "cache_read_input_tokens",
            "cache_write_5m_input": "cache_write_input_tokens", "output": "output_tokens"}


def floor_sql(events: str, seeds: Path) -> str:
    """The script: `events` is a relation over the event files (`events_reader`), `seeds` the lookups."""
    in_force = "{a}.valid_from <= {d} and {d} < coalesce({a}.valid_to, date '9999-12-31')"
    class_prices = ",\n            ".join(
        f"max(price) filter (where token_class = '{c}') as {c}_price" for c in _CLASSES)
    cost_terms = " + ".join(f"requests.{col} * prices.{c}_price" for c, col in _CLASSES.items())
    return f"""
set TimeZone = 'UTC';
create or replace table fact as
with
events as (select * from {events}),
requests as (
    -- one row per request: a re-delivered request counts once
    select distinct on (request_id)
        request_id, cast(cast(occurred_at as timestamptz) as date) as usage_date, provider, model,
        api_key_id, project_id, uncached_input_tokens, cache_read_input_tokens, cache_write_input_tokens,
        output_tokens, coalesce(batch, false) as is_batch, feature, workflow, team, employee_id, customer_id
    from events
),
price_book as (select * from {_seed(seeds, 'price_book', _PRICE)}),
models as (
    -- each model id takes the price-book model of its longest matching pattern
    select ids.provider, ids.model, patterns.priced_model
    from (select distinct provider, model from requests) as ids
    left join (select distinct provider, model as priced_model, match_pattern from price_book) as patterns
        on ids.provider = patterns.provider and ids.model like patterns.match_pattern
    qualify row_number() over (
        partition by ids.provider, ids.model
        order by length(patterns.match_pattern) desc nulls last, patterns.priced_model) = 1
),
prices as (
    -- per price period and batch flag: USD per million tokens of each class, standard tier
    select provider, priced_model, valid_from, valid_to, is_batch,
            {class_prices}
    from (
        select provider, model as priced_model, valid_from, valid_to, token_class, flags.is_batch,
            cast(usd_per_million_tokens * case when flags.is_batch then coalesce(batch_multiplier, 1) else 1 end
                 as decimal(38, 9)) as price
        from price_book
        cross join (values (false), (true)) as flags(is_batch)
        where service_tier = 'standard' and context_window = 'all'
    )
    group by all
),
priced as (
    select requests.*,
        case when models.priced_model is not null then
            cast(cast({cost_terms} as decimal(38, 9)) * cast('0.000001' as decimal(38, 9)) as decimal(38, 9))
        end as estimated_cost_usd
    from requests
    join models using (provider, model)
    left join prices
        on prices.provider = requests.provider
        and prices.priced_model = models.priced_model
        and prices.is_batch = requests.is_batch
        and {in_force.format(a='prices', d='requests.usage_date')}
),
key_owners as (select * from {_seed(seeds, 'api_key_owners', _OWNER)}),
project_owners as (select * from {_seed(seeds, 'project_owners', _PROJECT)}),
roster as (select * from {_seed(seeds, 'employees', _EMPLOYEE)}),
owned as (
    select priced.*,
        key_owners.team as key_team, key_owners.feature as key_feature, key_owners.workflow as key_workflow,
        key_owners.employee_id as key_employee, keyholder.team as keyholder_team,
        project_owners.team as project_team, project_owners.feature as project_feature,
        project_owners.workflow as project_workflow,
        tagged_employee.team as tagged_employee_team
    from priced
    left join key_owners
        on key_owners.provider = priced.provider and key_owners.api_key_id = priced.api_key_id
        and {in_force.format(a='key_owners', d='priced.usage_date')}
    left join project_owners
        on project_owners.provider = priced.provider and project_owners.project_id = priced.project_id
        and {in_force.format(a='project_owners', d='priced.usage_date')}
    left join roster as keyholder
        on keyholder.employee_id = key_owners.employee_id
        and {in_force.format(a='keyholder', d='priced.usage_date')}
    left join roster as tagged_employee
        on tagged_employee.employee_id = priced.employee_id
        and {in_force.format(a='tagged_employee', d='priced.usage_date')}
),
attributed as (
    select usage_date, provider, project_id, api_key_id, model, is_batch, estimated_cost_usd, customer_id,
        coalesce(feature, key_feature, project_feature) as feature,
        coalesce(workflow, key_workflow, project_workflow) as workflow,
        coalesce(team, tagged_employee_team, key_team, keyholder_team, project_team) as team,
        coalesce(employee_id, key_employee) as employee_id,
        case
            when coalesce(feature, workflow, team, employee_id) is not null then 'request_tag'
            when coalesce(key_team, key_feature, key_workflow, key_employee) is not null then 'api_key_owner'
            when coalesce(project_team, project_feature, project_workflow) is not null then 'project_owner'
            else 'untagged'
        end as attribution_method
    from owned
)
select usage_date, provider, project_id, api_key_id, model, is_batch, feature, workflow, team, employee_id,
    customer_id, attribution_method,
    count(*) as request_count,
    case when bool_or(estimated_cost_usd is null) then null else sum(estimated_cost_usd) end as estimated_cost_usd,
    bool_or(estimated_cost_usd is null) as is_unpriced
from attributed
group by all;
"""
