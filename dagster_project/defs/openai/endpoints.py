"""OpenAI organisation endpoints and how their results map onto the raw tables.

Units as sent: `input_tokens` INCLUDES cached and cache-write tokens; cost `amount.value` is a JSON
number in dollars. Both are converted in dbt staging, not here.
"""

from dagster_project.lib.provider_ingest import Column, Endpoint

_BIGINT = "BIGINT"

COMPLETIONS = Endpoint(
    provider="openai",
    table="openai_usage_completions",
    path="/organization/usage/completions",
    params=(
        ("bucket_width", "1d"),
        ("group_by[]", "project_id"),
        ("group_by[]", "api_key_id"),
        ("group_by[]", "model"),
        ("group_by[]", "batch"),
        ("group_by[]", "service_tier"),
    ),
    window_style="unix",
    limit=31,
    columns={
        "project_id": Column("$.project_id"),
        "user_id": Column("$.user_id"),
        "api_key_id": Column("$.api_key_id"),
        "model": Column("$.model"),
        "batch": Column("$.batch", "BOOLEAN"),
        "service_tier": Column("$.service_tier"),
        "input_tokens": Column("$.input_tokens", _BIGINT),
        "output_tokens": Column("$.output_tokens", _BIGINT),
        "input_cached_tokens": Column("$.input_cached_tokens", _BIGINT),
        "input_uncached_tokens": Column("$.input_uncached_tokens", _BIGINT),
        "input_cache_write_tokens": Column("$.input_cache_write_tokens", _BIGINT),
        "num_model_requests": Column("$.num_model_requests", _BIGINT),
    },
)

EMBEDDINGS = Endpoint(
    provider="openai",
    table="openai_usage_embeddings",
    path="/organization/usage/embeddings",
    params=(
        ("bucket_width", "1d"),
        ("group_by[]", "project_id"),
        ("group_by[]", "api_key_id"),
        ("group_by[]", "model"),
    ),
    window_style="unix",
    limit=31,
    columns={
        "project_id": Column("$.project_id"),
        "user_id": Column("$.user_id"),
        "api_key_id": Column("$.api_key_id"),
        "model": Column("$.model"),
        "input_tokens": Column("$.input_tokens", _BIGINT),
        "num_model_requests": Column("$.num_model_requests", _BIGINT),
    },
)

COSTS = Endpoint(
    provider="openai",
    table="openai_costs",
    path="/organization/costs",
    params=(("bucket_width", "1d"), ("group_by[]", "project_id"), ("group_by[]", "line_item")),
    window_style="unix",
    limit=31,
    columns={
        "project_id": Column("$.project_id"),
        "api_key_id": Column("$.api_key_id"),
        "line_item": Column("$.line_item"),
        # the number's text, kept as VARCHAR so no float arithmetic touches money before staging
        "amount_value": Column("$.amount.value"),
        "amount_currency": Column("$.amount.currency"),
        "quantity": Column("$.quantity", "DOUBLE"),
    },
)

ENDPOINTS = (COMPLETIONS, EMBEDDINGS, COSTS)
