"""The raw-table contract: what every ingest asset lands in DuckDB schema `raw`.

Raw tables keep the source's own fields and units (OpenAI dollars as sent, Anthropic cents as sent,
inclusive or disjoint token classes as sent); converting them is staging's job, in dbt. Every row
carries where it came from (`_source_file`, and `_page` or `_source_line`; for a file, its modification
time `_source_modified_at`) and when it was loaded, so any figure in a mart can be traced back to a
landed response or file line.

Money arrives as JSON text and is kept as VARCHAR here, so no float ever touches it; staging casts
it to DECIMAL.
"""

from __future__ import annotations

_LINEAGE = """
    _source_file VARCHAR NOT NULL,
    _page INTEGER,
    _loaded_at TIMESTAMP NOT NULL
"""

RAW_TABLES: dict[str, str] = {
    # OpenAI GET /v1/organization/usage/completions, grouped by project_id, api_key_id, model,
    # batch and service_tier; one row per bucket result. input_tokens INCLUDES cached and
    # cache-write tokens.
    "openai_usage_completions": f"""
        bucket_start TIMESTAMP NOT NULL,
        bucket_end TIMESTAMP NOT NULL,
        project_id VARCHAR,
        user_id VARCHAR,
        api_key_id VARCHAR,
        model VARCHAR,
        batch BOOLEAN,
        service_tier VARCHAR,
        input_tokens BIGINT,
        output_tokens BIGINT,
        input_cached_tokens BIGINT,
        input_uncached_tokens BIGINT,
        input_cache_write_tokens BIGINT,
        num_model_requests BIGINT,
        {_LINEAGE}""",
    # OpenAI GET /v1/organization/usage/embeddings (same grouping minus batch and service tier).
    "openai_usage_embeddings": f"""
        bucket_start TIMESTAMP NOT NULL,
        bucket_end TIMESTAMP NOT NULL,
        project_id VARCHAR,
        user_id VARCHAR,
        api_key_id VARCHAR,
        model VARCHAR,
        input_tokens BIGINT,
        num_model_requests BIGINT,
        {_LINEAGE}""",
    # OpenAI GET /v1/organization/costs, grouped by project_id and line_item.
    # amount_value is the JSON number's text, in DOLLARS.
    "openai_costs": f"""
        bucket_start TIMESTAMP NOT NULL,
        bucket_end TIMESTAMP NOT NULL,
        project_id VARCHAR,
        api_key_id VARCHAR,
        line_item VARCHAR,
        amount_value VARCHAR,
        amount_currency VARCHAR,
        quantity DOUBLE,
        {_LINEAGE}""",
    # Anthropic GET /v1/organizations/usage_report/messages, grouped by api_key_id, workspace_id,
    # model, service_tier and context_window. Token classes are DISJOINT.
    # workspace_id NULL = default workspace; api_key_id NULL = Console/Workbench usage.
    "anthropic_usage_messages": f"""
        bucket_start TIMESTAMP NOT NULL,
        bucket_end TIMESTAMP NOT NULL,
        api_key_id VARCHAR,
        workspace_id VARCHAR,
        account_id VARCHAR,
        service_account_id VARCHAR,
        model VARCHAR,
        service_tier VARCHAR,
        context_window VARCHAR,
        inference_geo VARCHAR,
        uncached_input_tokens BIGINT,
        cache_read_input_tokens BIGINT,
        cache_creation_5m_input_tokens BIGINT,
        cache_creation_1h_input_tokens BIGINT,
        output_tokens BIGINT,
        web_search_requests BIGINT,
        {_LINEAGE}""",
    # Anthropic GET /v1/organizations/cost_report, grouped by workspace_id and description.
    # amount is the decimal STRING in CENTS as sent ("123.45" = $1.2345).
    "anthropic_cost_report": f"""
        bucket_start TIMESTAMP NOT NULL,
        bucket_end TIMESTAMP NOT NULL,
        workspace_id VARCHAR,
        description VARCHAR,
        cost_type VARCHAR,
        token_type VARCHAR,
        model VARCHAR,
        service_tier VARCHAR,
        context_window VARCHAR,
        inference_geo VARCHAR,
        amount VARCHAR,
        currency VARCHAR,
        {_LINEAGE}""",
    # Anthropic GET /v1/organizations/usage_report/claude_code: one row per day x actor x model.
    # estimated_cost_amount is in CENTS; cache_creation is not split into 5m/1h.
    "anthropic_claude_code_usage": f"""
        usage_date DATE NOT NULL,
        actor_type VARCHAR,
        actor_email VARCHAR,
        actor_api_key_name VARCHAR,
        customer_type VARCHAR,
        subscription_type VARCHAR,
        terminal_type VARCHAR,
        num_sessions BIGINT,
        lines_added BIGINT,
        lines_removed BIGINT,
        commits BIGINT,
        pull_requests BIGINT,
        model VARCHAR,
        input_tokens BIGINT,
        output_tokens BIGINT,
        cache_read_tokens BIGINT,
        cache_creation_tokens BIGINT,
        estimated_cost_amount VARCHAR,
        estimated_cost_currency VARCHAR,
        {_LINEAGE}""",
    # Request-level events: the documented event-log format (source_system event_file) is tokenspend's
    # own, so its fields are the contract. The four token classes are DISJOINT. request_id is the dedupe
    # key (staging keeps one row per request over every request-level source, by source precedence);
    # updated_at, when the producer sends it, orders corrected re-deliveries of a request.
    # Rows of other sources landed here by earlier versions (source_system litellm, otel; raw_tags and
    # source_usage set) are read as they are.
    "request_events": """
        request_id VARCHAR NOT NULL,
        occurred_at TIMESTAMP NOT NULL,
        provider VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        api_key_id VARCHAR,
        project_id VARCHAR,
        uncached_input_tokens BIGINT NOT NULL,
        cache_read_input_tokens BIGINT NOT NULL,
        cache_write_input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        batch BOOLEAN NOT NULL,
        service_tier VARCHAR,
        feature VARCHAR,
        workflow VARCHAR,
        task_id VARCHAR,
        team VARCHAR,
        employee_id VARCHAR,
        customer_id VARCHAR,
        updated_at TIMESTAMP,
        source_system VARCHAR NOT NULL,
        raw_tags VARCHAR,
        source_usage VARCHAR,
        _source_file VARCHAR NOT NULL,
        _source_line BIGINT,
        _source_modified_at TIMESTAMP,
        _loaded_at TIMESTAMP NOT NULL""",
    # LiteLLM proxy spend logs (LiteLLM_SpendLogs rows, exported or copied from its database), one row per
    # call that reached the provider, in LiteLLM's own fields. prompt_tokens INCLUDES cached_tokens and
    # cache_creation_input_tokens (both read from metadata.usage_object). spend is LiteLLM's own estimate
    # in dollars, as sent. spend_logs_metadata is the caller's attribution object (JSON object text);
    # request_tags the tag list (JSON array text). api_key is never landed: it is LiteLLM's virtual key.
    # response_id is the provider's response id (response.id; only the id of the response is read).
    # team_id / team_alias and key_alias are LiteLLM's own attribution (its team and virtual-key alias).
    "litellm_spend_logs": """
        request_id VARCHAR NOT NULL,
        response_id VARCHAR,
        start_time TIMESTAMP NOT NULL,
        custom_llm_provider VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT,
        cached_tokens BIGINT,
        cache_creation_input_tokens BIGINT,
        spend VARCHAR,
        end_user VARCHAR,
        team_id VARCHAR,
        team_alias VARCHAR,
        key_alias VARCHAR,
        spend_logs_metadata VARCHAR,
        request_tags VARCHAR,
        _source_file VARCHAR NOT NULL,
        _source_line BIGINT,
        _source_modified_at TIMESTAMP,
        _loaded_at TIMESTAMP NOT NULL""",
    # OpenTelemetry GenAI inference spans (OTLP/JSON), one row per span that reports usage, under the
    # semantic conventions' names (a deprecated name is read when the current one is absent).
    # input_tokens INCLUDES cache_read_input_tokens and cache_creation_input_tokens. span_attributes and
    # resource_attributes hold every attribute as one flat JSON object {key: text}, for tag mapping.
    "otel_spans": """
        trace_id VARCHAR NOT NULL,
        span_id VARCHAR NOT NULL,
        span_name VARCHAR,
        start_time TIMESTAMP NOT NULL,
        operation_name VARCHAR,
        provider_name VARCHAR NOT NULL,
        request_model VARCHAR,
        response_model VARCHAR,
        response_id VARCHAR,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT,
        cache_read_input_tokens BIGINT,
        cache_creation_input_tokens BIGINT,
        service_tier VARCHAR,
        span_attributes VARCHAR,
        resource_attributes VARCHAR,
        _source_file VARCHAR NOT NULL,
        _source_line BIGINT,
        _source_modified_at TIMESTAMP,
        _loaded_at TIMESTAMP NOT NULL""",
    # Workflow outcome events: a task completed (success) or failed.
    "outcome_events": """
        task_id VARCHAR NOT NULL,
        parent_task_id VARCHAR,
        workflow VARCHAR,
        completed_at TIMESTAMP NOT NULL,
        outcome VARCHAR NOT NULL,
        _source_file VARCHAR NOT NULL,
        _source_line BIGINT,
        _source_modified_at TIMESTAMP,
        _loaded_at TIMESTAMP NOT NULL""",
    # Rows refused by a file loader, kept whole with their reason; nothing is lost.
    "rejected_rows": """
        source VARCHAR NOT NULL,
        _source_file VARCHAR NOT NULL,
        _source_line BIGINT,
        reason VARCHAR NOT NULL,
        raw_record VARCHAR,
        _loaded_at TIMESTAMP NOT NULL""",
    # One row per landed file, so a file is read once (incremental loading). quarantine_reason is null for
    # a file that loaded, else why its present version (the size and modification time here) could not be
    # read: nothing of it is loaded, and it is read again once it changes. rows_loaded and rows_rejected
    # count the file's rows in the raw tables (for a quarantined file, those an earlier version loaded).
    "landed_files": """
        source VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        size_bytes BIGINT NOT NULL,
        modified_at TIMESTAMP NOT NULL,
        rows_loaded BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        quarantine_reason VARCHAR,
        _loaded_at TIMESTAMP NOT NULL""",
}


# Columns added to a table after its first release. `create table if not exists` leaves an existing
# warehouse's table as it was, so these are added in place (nullable: old rows have no value).
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "request_events": ("raw_tags VARCHAR", "source_usage VARCHAR", "updated_at TIMESTAMP",
                       "_source_modified_at TIMESTAMP"),
    "outcome_events": ("_source_modified_at TIMESTAMP",),
    "landed_files": ("quarantine_reason VARCHAR",),
}


def create_raw_tables(con) -> None:
    """Create schema `raw` and every contract table that does not exist yet; add columns added since."""
    con.execute("create schema if not exists raw")
    for name, columns in RAW_TABLES.items():
        con.execute(f"create table if not exists raw.{name} ({columns})")
    present = set(con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = 'raw'"
    ).fetchall())
    for name, added in ADDED_COLUMNS.items():
        for column in added:
            if (name, column.split()[0]) not in present:
                con.execute(f"alter table raw.{name} add column if not exists {column}")


# The contract's DuckDB types as Spark SQL types (spark_create_statements).
SPARK_TYPES: dict[str, str] = {
    "VARCHAR": "string", "TIMESTAMP": "timestamp", "BIGINT": "bigint", "INTEGER": "int",
    "DOUBLE": "double", "BOOLEAN": "boolean", "DATE": "date",
}


def raw_columns(name: str) -> list[tuple[str, str, bool]]:
    """A raw table's columns as (name, DuckDB type, not null), in order, read from its contract above."""
    columns = []
    for line in RAW_TABLES[name].splitlines():
        words = line.strip().rstrip(",").split()
        if words:
            columns.append((words[0], words[1].upper(), " ".join(words[2:]).upper() == "NOT NULL"))
    return columns


def spark_create_statements() -> list[str]:
    """The same contract in Spark SQL, for a warehouse built on Spark (the dbt `spark` target): schema `raw`
    and every table, as parquet. NOT NULL is left out: Spark enforces it only on Delta tables."""
    statements = ["create schema if not exists raw"]
    for name in RAW_TABLES:
        columns = ", ".join(f"{column} {SPARK_TYPES[kind]}" for column, kind, _ in raw_columns(name))
        statements.append(f"create table if not exists raw.{name} ({columns}) using parquet")
    return statements
