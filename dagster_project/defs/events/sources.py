"""The request-level file sources and how each maps onto the raw contract.

Each mapping is one SELECT over a `records` relation (see `dagster_project.lib.file_ingest`) returning
the raw table's columns plus `_reject_reason`, which is null for a good row and otherwise says, naming
the field and value, why the row was refused. The event-log and outcome formats are flat, so their
mappings read field records (one VARCHAR column per field, whether the file is JSON lines, CSV or
Parquet); LiteLLM spend logs and OpenTelemetry spans nest their fields, so theirs read JSON records.

Three request-level sources land in their own raw tables: the event-log files here
(`raw.request_events`, `source_system` event_file), LiteLLM spend logs (`litellm.py`,
`raw.litellm_spend_logs`) and OpenTelemetry GenAI spans (`otel.py`, `raw.otel_spans`); dbt staging
maps the last two onto requests. The helpers below are shared by their SELECTs.
"""

from __future__ import annotations

from dagster_project.lib.file_ingest import FileSource, sql_identifier

KNOWN_PROVIDERS = ("openai", "anthropic")
PROVIDERS_SQL = ", ".join(f"'{p}'" for p in KNOWN_PROVIDERS)
TOKEN_FIELDS = ("uncached_input_tokens", "cache_read_input_tokens", "cache_write_input_tokens", "output_tokens")
TAG_FIELDS = ("feature", "workflow", "task_id", "team", "employee_id", "customer_id")


EVENT_FIELDS = ("request_id", "occurred_at", "provider", "model", "api_key_id", "project_id", *TOKEN_FIELDS,
                "batch", "service_tier", *TAG_FIELDS, "updated_at")
OUTCOME_FIELDS = ("task_id", "parent_task_id", "workflow", "completed_at", "outcome")


def field_text(fields: tuple[str, ...]):
    """`text(field)`: one field of a JSON multi-path extract (a list `v` in `fields` order), trimmed, empty as NULL."""
    def _text(field: str) -> str:
        return f"nullif(trim(v[{fields.index(field) + 1}]), '')"
    return _text


def column_text(field: str) -> str:
    """One field of field records: its column (already trimmed, NULL when empty)."""
    return sql_identifier(field)


_text = column_text


def whole_number(expr: str) -> str:
    """The value as BIGINT when it is written as a whole number ("12", "007", not "1.5" or "12abc"), else NULL.

    A value that reads back as it was written ("12") needs no pattern match; others ("007", "1.5") are
    matched against `-?[0-9]+`.
    """
    number = f"try_cast({expr} as bigint)"
    return (f"case when cast({number} as varchar) = {expr} then {number} "
            f"when regexp_full_match({expr}, '-?[0-9]+') then {number} end")


def token_checks(fields: tuple[str, ...] = TOKEN_FIELDS) -> str:
    """CASE branches rejecting a `<f>_text` that is not a whole number and a negative `<f>`."""
    checks = []
    for f in fields:
        checks.append(f"when {f}_text is not null and {f} is null then '{f} is not a whole number: ' || {f}_text")
        checks.append(f"when {f} < 0 then '{f} is negative: ' || {f}_text")
    return "\n                ".join(checks)


EVENT_LOG_PARSE_SQL = f"""
    , fields as (
        select _source_file, _source_line, raw_record, _record_error,
            {_text('request_id')} as request_id,
            {_text('occurred_at')} as occurred_at_text,
            try_cast({_text('occurred_at')} as timestamptz) as occurred_at_tz,
            lower({_text('provider')}) as provider,
            {_text('model')} as model,
            {_text('api_key_id')} as api_key_id,
            {_text('project_id')} as project_id,
            {", ".join(f"{_text(f)} as {f}_text, {whole_number(_text(f))} as {f}" for f in TOKEN_FIELDS)},
            {_text('batch')} as batch_text,
            try_cast({_text('batch')} as boolean) as batch_value,
            {_text('service_tier')} as service_tier,
            {", ".join(f"{_text(f)} as {f}" for f in TAG_FIELDS)},
            {_text('updated_at')} as updated_at_text,
            try_cast({_text('updated_at')} as timestamptz) as updated_at_tz
        from records
    )
    select
        request_id,
        cast(occurred_at_tz at time zone 'UTC' as timestamp) as occurred_at,
        provider, model, api_key_id, project_id,
        {", ".join(f"coalesce({f}, 0) as {f}" for f in TOKEN_FIELDS)},
        coalesce(batch_value, false) as batch,
        service_tier,
        {", ".join(TAG_FIELDS)},
        cast(updated_at_tz at time zone 'UTC' as timestamp) as updated_at,
        'event_file' as source_system,
        _source_file, _source_line, raw_record,
        case
            when _record_error is not null then _record_error
            when request_id is null then 'missing request_id'
            when occurred_at_text is null then 'missing occurred_at'
            when occurred_at_tz is null then 'occurred_at is not an RFC 3339 timestamp: ' || occurred_at_text
            when provider is null then 'missing provider'
            when provider not in ({PROVIDERS_SQL}) then 'unknown provider: ' || provider
            when model is null then 'missing model'
            when {" and ".join(f"{f}_text is null" for f in TOKEN_FIELDS)} then 'no token counts'
            {token_checks()}
            when batch_text is not null and batch_value is null then 'batch is not a boolean: ' || batch_text
            when updated_at_text is not null and updated_at_tz is null
                then 'updated_at is not an RFC 3339 timestamp: ' || updated_at_text
        end as _reject_reason
    from fields"""

OUTCOME_PARSE_SQL = f"""
    , fields as (
        select _source_file, _source_line, raw_record, _record_error,
            {_text('task_id')} as task_id,
            {_text('parent_task_id')} as parent_task_id,
            lower({_text('workflow')}) as workflow,
            {_text('completed_at')} as completed_at_text,
            try_cast({_text('completed_at')} as timestamptz) as completed_at_tz,
            lower({_text('outcome')}) as outcome
        from records
    )
    select
        task_id, parent_task_id, workflow,
        cast(completed_at_tz at time zone 'UTC' as timestamp) as completed_at,
        outcome, _source_file, _source_line, raw_record,
        case
            when _record_error is not null then _record_error
            when task_id is null then 'missing task_id'
            when completed_at_text is null then 'missing completed_at'
            when completed_at_tz is null then 'completed_at is not an RFC 3339 timestamp: ' || completed_at_text
            when outcome is null then 'missing outcome'
            when outcome not in ('success', 'failure') then 'outcome must be success or failure: ' || outcome
        end as _reject_reason
    from fields"""

EVENT_FILES = FileSource(name="event_files", table="request_events", subdir="events",
                         parse_sql=EVENT_LOG_PARSE_SQL, fields=EVENT_FIELDS)
OUTCOME_FILES = FileSource(name="outcome_files", table="outcome_events", subdir="outcomes",
                           parse_sql=OUTCOME_PARSE_SQL, fields=OUTCOME_FIELDS)
