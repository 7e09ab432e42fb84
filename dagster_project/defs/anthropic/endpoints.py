"""Anthropic Admin API endpoints and how their results map onto the raw tables.

Units as sent: usage token classes are DISJOINT; cost `amount` is a decimal STRING in CENTS; a null
`workspace_id` is the default workspace and a null `api_key_id` is Console usage. The cost report
cannot be grouped by API key. Conversions happen in dbt staging.
"""

from dagster_project.lib.provider_ingest import Column, Endpoint

_BIGINT = "BIGINT"

MESSAGES_USAGE = Endpoint(
    provider="anthropic",
    table="anthropic_usage_messages",
    path="/organizations/usage_report/messages",
    params=(
        ("bucket_width", "1d"),
        ("group_by[]", "api_key_id"),
        ("group_by[]", "workspace_id"),
        ("group_by[]", "model"),
        ("group_by[]", "service_tier"),
        ("group_by[]", "context_window"),
    ),
    window_style="rfc3339",
    limit=31,
    columns={
        "api_key_id": Column("$.api_key_id"),
        "workspace_id": Column("$.workspace_id"),
        "account_id": Column("$.account_id"),
        "service_account_id": Column("$.service_account_id"),
        "model": Column("$.model"),
        "service_tier": Column("$.service_tier"),
        "context_window": Column("$.context_window"),
        "inference_geo": Column("$.inference_geo"),
        "uncached_input_tokens": Column("$.uncached_input_tokens", _BIGINT),
        "cache_read_input_tokens": Column("$.cache_read_input_tokens", _BIGINT),
        "cache_creation_5m_input_tokens": Column("$.cache_creation.ephemeral_5m_input_tokens", _BIGINT),
        "cache_creation_1h_input_tokens": Column("$.cache_creation.ephemeral_1h_input_tokens", _BIGINT),
        "output_tokens": Column("$.output_tokens", _BIGINT),
        "web_search_requests": Column("$.server_tool_use.web_search_requests", _BIGINT),
    },
)

COST_REPORT = Endpoint(
    provider="anthropic",
    table="anthropic_cost_report",
    path="/organizations/cost_report",
    params=(("bucket_width", "1d"), ("group_by[]", "workspace_id"), ("group_by[]", "description")),
    window_style="rfc3339",
    limit=31,
    columns={
        "workspace_id": Column("$.workspace_id"),
        "description": Column("$.description"),
        "cost_type": Column("$.cost_type"),
        "token_type": Column("$.token_type"),
        "model": Column("$.model"),
        "service_tier": Column("$.service_tier"),
        "context_window": Column("$.context_window"),
        "inference_geo": Column("$.inference_geo"),
        # decimal string in cents, kept as text
        "amount": Column("$.amount"),
        "currency": Column("$.currency"),
    },
)

# One request per UTC date; records are flat, with one model_breakdown entry per model.
CLAUDE_CODE_USAGE = Endpoint(
    provider="anthropic",
    table="anthropic_claude_code_usage",
    path="/organizations/usage_report/claude_code",
    params=(),
    window_style="per_day",
    limit=1000,
    window_column="usage_date",
    rows_sql="""
        , records as (
            select _source_file, _page, unnest(cast(json_extract(doc, '$.data') as json[])) as rec from pages
        ), models as (
            select _source_file, _page, rec,
                   unnest(cast(coalesce(json_extract(rec, '$.model_breakdown'), '[]') as json[])) as m
            from records
        )
        select
            cast(cast(rec->>'$.date' as timestamptz) at time zone 'UTC' as date) as usage_date,
            rec->>'$.actor.type' as actor_type,
            rec->>'$.actor.email_address' as actor_email,
            rec->>'$.actor.api_key_name' as actor_api_key_name,
            rec->>'$.customer_type' as customer_type,
            rec->>'$.subscription_type' as subscription_type,
            rec->>'$.terminal_type' as terminal_type,
            cast(rec->>'$.core_metrics.num_sessions' as bigint) as num_sessions,
            cast(rec->>'$.core_metrics.lines_of_code.added' as bigint) as lines_added,
            cast(rec->>'$.core_metrics.lines_of_code.removed' as bigint) as lines_removed,
            cast(rec->>'$.core_metrics.commits_by_claude_code' as bigint) as commits,
            cast(rec->>'$.core_metrics.pull_requests_by_claude_code' as bigint) as pull_requests,
            m->>'$.model' as model,
            cast(m->>'$.tokens.input' as bigint) as input_tokens,
            cast(m->>'$.tokens.output' as bigint) as output_tokens,
            cast(m->>'$.tokens.cache_read' as bigint) as cache_read_tokens,
            cast(m->>'$.tokens.cache_creation' as bigint) as cache_creation_tokens,
            m->>'$.estimated_cost.amount' as estimated_cost_amount,
            m->>'$.estimated_cost.currency' as estimated_cost_currency,
            _source_file, _page
        from models""",
)

ENDPOINTS = (MESSAGES_USAGE, COST_REPORT, CLAUDE_CODE_USAGE)
