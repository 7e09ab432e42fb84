"""LiteLLM proxy spend logs: exported `LiteLLM_SpendLogs` rows (JSONL or CSV), and the proxy's own PostgreSQL.

Files land in `$TOKENSPEND_LANDING_DIR/litellm/` (any depth) and load through the one file-ingest
mechanism into `raw.litellm_spend_logs`, in LiteLLM's own fields; dbt's `stg_litellm__spend_logs` maps
them onto tokenspend's request (provider, model id, disjoint token classes, tags). When
`TOKENSPEND_LITELLM_DATABASE_URL` is set, `export_spend_logs` first copies the rows started since the
last export (minus a lookback for late writes) out of the proxy's database into a CSV under
`litellm/db/`, which the same file source then loads, so database rows and exported files go through
exactly one path. See README.md beside this file for the fields.

The loader checks what the raw table promises and rejects, naming the field and value, a row that breaks
it: the required fields, timestamps, whole non-negative token counts, `metadata` and `request_tags` that
decode, a provider tokenspend reconciles, and LiteLLM's own arithmetic (`prompt_tokens` INCLUDES cache
reads and cache writes, so it cannot be less than their sum). Rows that never reached the provider are
skipped, not landed: LiteLLM cache hits (`cache_hit` true, answered from the proxy's own cache) and
failed calls (`status` failure).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from dagster_project.defs.events.sources import field_text, token_checks, whole_number
from dagster_project.lib.file_ingest import FileSource, sql_literal
from dagster_project.settings import current_settings

DATABASE_URL_VAR = "TOKENSPEND_LITELLM_DATABASE_URL"
LOOKBACK_VAR = "TOKENSPEND_LITELLM_LOOKBACK_MINUTES"
DB_SUBDIR = "db"
SPEND_LOGS_TABLE = "LiteLLM_SpendLogs"

# LiteLLM's names (custom_llm_provider) for the two providers whose bills we reconcile; staging's
# litellm_provider() macro maps them (an accepted_values test on the staging model keeps both in step).
PROVIDER_ALIASES = ("openai", "text-completion-openai", "anthropic")

_FIELDS = ("request_id", "startTime", "custom_llm_provider", "model", "prompt_tokens", "completion_tokens",
           "spend", "end_user", "cache_hit", "status", "team_id")
_USAGE_PATHS = ("prompt_tokens_details.cached_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_creation_input_tokens")


def _as_json_object(expr: str) -> str:
    """A JSON value that is an object, or a JSON-encoded string holding one, as a JSON object; else NULL."""
    return f"""case json_type({expr})
            when 'OBJECT' then {expr}
            when 'VARCHAR' then case when json_valid({expr} ->> '$') and json_type(json({expr} ->> '$')) = 'OBJECT'
                                     then json({expr} ->> '$') end
        end"""


def _is_undecodable(expr: str) -> str:
    """True when the value is there but is neither a JSON object nor a JSON string holding one."""
    return f"""(coalesce(json_type({expr}), 'NULL') <> 'NULL'
             and not (json_type({expr}) = 'VARCHAR' and trim({expr} ->> '$') in ('', 'null'))
             and {_as_json_object(expr)} is null)"""


_text = field_text(_FIELDS)


def _u(i: int) -> str:
    return f"nullif(trim(u[{i}]), '')"


LITELLM_PARSE_SQL = f"""
    , extracted as (
        select *,
            case when rec is not null and json_type(rec) = 'OBJECT'
                 then json_extract_string(rec, [{", ".join(f"'$.{f}'" for f in _FIELDS)}]) end as v,
            case when rec is not null and json_type(rec) = 'OBJECT' then rec -> 'metadata' end as metadata_value,
            case when rec is not null and json_type(rec) = 'OBJECT' then rec -> 'request_tags' end as tags_value,
            -- only the provider's id of the response is read, never its content
            case when rec is not null and json_type(rec) = 'OBJECT'
                 then nullif(trim(coalesce(
                     json_extract_string({_as_json_object("rec -> 'response'")}, '$.id'),
                     json_extract_string(rec, '$.response_id'))), '') end as response_id
        from records
    )
    , decoded as (
        -- metadata and request_tags are JSON in the database but JSON-encoded strings on LiteLLM's write
        -- path (SpendLogsPayload) and in CSV exports: both are read
        select *,
            {_as_json_object('metadata_value')} as metadata,
            {_is_undecodable('metadata_value')} as metadata_is_bad,
            case json_type(tags_value)
                when 'ARRAY' then tags_value
                when 'VARCHAR' then case
                    when trim(tags_value ->> '$') = '' then null
                    when json_valid(tags_value ->> '$') and json_type(json(tags_value ->> '$')) = 'ARRAY'
                        then json(tags_value ->> '$')
                    -- the x-litellm-tags header form: comma-separated, whitespace trimmed
                    when not json_valid(tags_value ->> '$') and not starts_with(trim(tags_value ->> '$'), '[')
                        then to_json(list_filter(list_transform(string_split(tags_value ->> '$', ','), lambda s: trim(s)),
                                                 lambda s: s <> ''))
                end
            end as tags_json,
            tags_value is not null and json_type(tags_value) not in ('NULL', 'ARRAY', 'VARCHAR') as tags_wrong_type
        from extracted
    )
    , nested as (
        select *,
            {_as_json_object("metadata -> 'usage_object'")} as usage_object,
            {_as_json_object("metadata -> 'spend_logs_metadata'")} as spend_logs_metadata
        from decoded
    )
    , fields as (
        select _source_file, _source_line, raw_record, rec, metadata_is_bad, tags_value, tags_json, tags_wrong_type,
            json_extract_string(usage_object, [{", ".join(f"'$.{p}'" for p in _USAGE_PATHS)}]) as u,
            spend_logs_metadata,
            nullif(trim(json_extract_string(metadata, '$.user_api_key_team_id')), '') as metadata_team_id,
            nullif(trim(json_extract_string(metadata, '$.user_api_key_alias')), '') as key_alias,
            nullif(trim(json_extract_string(metadata, '$.user_api_key_team_alias')), '') as team_alias,
            response_id,
            {_text('request_id')} as request_id,
            {_text('startTime')} as occurred_at_text,
            case when regexp_full_match({_text('startTime')}, '[0-9]+(\\.[0-9]+)?')
                 then to_timestamp(cast({_text('startTime')} as double))       -- epoch seconds (callback payloads)
                 else try_cast({_text('startTime')} as timestamptz) end as occurred_at_tz,
            {_text('custom_llm_provider')} as provider_text,
            {_text('model')} as model_text,
            {_text('prompt_tokens')} as prompt_tokens_text,
            {_text('completion_tokens')} as completion_tokens_text,
            {_text('spend')} as spend_text,
            {_text('end_user')} as end_user,
            {_text('team_id')} as team_id_text,
            lower(coalesce({_text('cache_hit')}, '')) = 'true' as is_cache_hit,
            lower(coalesce({_text('status')}, json_extract_string(metadata, '$.status'), '')) = 'failure' as is_failure
        from nested
    )
    , tokens as (
        select *,
            coalesce({_u(1)}, {_u(2)}) as cached_tokens_text,
            {_u(3)} as cache_creation_input_tokens_text
        from fields
    )
    , typed as (
        select *,
            {", ".join(f"{whole_number(f + '_text')} as {f}" for f in _TOKENS)}
        from tokens
    )
    select
        request_id,
        response_id,
        cast(occurred_at_tz at time zone 'UTC' as timestamp) as start_time,
        provider_text as custom_llm_provider,
        model_text as model,
        {", ".join(_TOKENS)},
        spend_text as spend,
        end_user,
        coalesce(team_id_text, metadata_team_id) as team_id,
        team_alias,
        key_alias,
        cast(spend_logs_metadata as varchar) as spend_logs_metadata,
        cast(tags_json as varchar) as request_tags,
        _source_file, _source_line, raw_record,
        case
            when rec is null then 'not valid JSON'
            when json_type(rec) <> 'OBJECT' then 'not a JSON object'
            when request_id is null then 'missing request_id'
            when occurred_at_text is null then 'missing startTime'
            when occurred_at_tz is null then 'startTime is not a timestamp: ' || occurred_at_text
            when provider_text is null then 'missing custom_llm_provider'
            when lower(provider_text) not in ({", ".join(sql_literal(a) for a in PROVIDER_ALIASES)})
                then 'unknown provider: ' || provider_text
            when model_text is null then 'missing model'
            when metadata_is_bad then 'metadata is not a JSON object'
            when tags_wrong_type or (tags_value is not null and json_type(tags_value) = 'VARCHAR'
                                     and trim(tags_value ->> '$') <> '' and tags_json is null)
                then 'request_tags is not a list of tags: ' || cast(tags_value as varchar)
            when prompt_tokens_text is null then 'missing prompt_tokens'
            {token_checks(_TOKENS)}
            when prompt_tokens < coalesce(cached_tokens, 0) + coalesce(cache_creation_input_tokens, 0) then
                'prompt_tokens ' || prompt_tokens || ' is less than cached ' || coalesce(cached_tokens, 0)
                || ' + cache_creation ' || coalesce(cache_creation_input_tokens, 0)
                || ' (LiteLLM prompt_tokens includes both)'
        end as _reject_reason
    from typed
    -- never sent to the provider: nothing to attribute (not a bad row either)
    where not (is_cache_hit or is_failure)"""

LITELLM_FILES = FileSource(name="litellm_files", table="litellm_spend_logs", subdir="litellm", parse_sql=LITELLM_PARSE_SQL)


# --- the proxy's PostgreSQL -------------------------------------------------------------------------

# Only the columns the loader reads (never messages, response or proxy_server_request: prompts and
# completions); of `response`, only its id is selected.
EXPORT_COLUMNS = ("request_id", "call_type", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
                  "startTime", "endTime", "model", "model_group", "custom_llm_provider", "end_user", "team_id",
                  "metadata", "request_tags", "cache_hit", "status")


def database_url() -> str | None:
    """`TOKENSPEND_LITELLM_DATABASE_URL` (a secret of the settings, never logged), or None when unset."""
    url = current_settings().litellm_database_url
    return url.get_secret_value() if url else None


def lookback() -> dt.timedelta:
    """How far before the newest loaded row each export starts again (`TOKENSPEND_LITELLM_LOOKBACK_MINUTES`,
    default 60): LiteLLM writes spend logs in batches, so a row can appear after later-started ones."""
    return dt.timedelta(minutes=current_settings().litellm_lookback_minutes)


def export_query(available_columns: set[str], since: dt.datetime | None) -> str:
    """The COPY statement that writes the spend logs started at or after `since` (UTC) as CSV with a header.

    Only columns present in this LiteLLM version's table are selected (older schemas lack some); the
    mapping treats a missing column as null. Time zone handling: the session is UTC, so `startTime`
    (timestamp without time zone, written in UTC) compares with the UTC watermark as it is.
    """
    missing = {"request_id", "startTime", "prompt_tokens"} - available_columns
    if missing:
        raise ValueError(f"{SPEND_LOGS_TABLE} has no column(s) {sorted(missing)}: is this a LiteLLM database?")
    selected = [f'"{c}"' for c in EXPORT_COLUMNS if c in available_columns]
    if "response" in available_columns:
        # the provider's response id only: the response's content never leaves the proxy
        selected.append("""case when jsonb_typeof("response"::jsonb) = 'object' then "response"::jsonb ->> 'id' end """
                        "as response_id")
    columns = ", ".join(selected)
    where = f"""where "startTime" >= {sql_literal(since.strftime('%Y-%m-%d %H:%M:%S.%f'))}::timestamp""" if since else ""
    return (f'copy (select {columns} from "{SPEND_LOGS_TABLE}" {where} order by "startTime", request_id) '
            "to stdout (format csv, header)")


def export_folder(landing_dir: Path) -> Path:
    return LITELLM_FILES.folder(landing_dir) / DB_SUBDIR


def watermark(con, landing_dir: Path) -> dt.datetime | None:
    """Start of the next export: the newest `startTime` loaded from earlier exports, minus the lookback."""
    prefix = str(export_folder(landing_dir)) + os.sep
    newest = con.execute(
        "select max(start_time) from raw.litellm_spend_logs where starts_with(_source_file, ?)", [prefix]
    ).fetchone()[0]
    return newest - lookback() if newest else None


def copy_spend_logs(url: str, since: dt.datetime | None, out) -> None:
    """Stream the spend logs since `since` from the LiteLLM database at `url` into the binary file `out`."""
    import psycopg  # only needed when a database is configured

    try:
        with psycopg.connect(url, connect_timeout=10, autocommit=True) as db:
            db.execute("set time zone 'UTC'")
            db.execute("set statement_timeout = '15min'")
            columns = {r[0] for r in db.execute(
                "select column_name from information_schema.columns where table_name = %s "
                "and table_schema = any(current_schemas(false))", [SPEND_LOGS_TABLE]).fetchall()}
            with db.cursor().copy(export_query(columns, since)) as copy:
                for chunk in copy:
                    out.write(chunk)
    except (psycopg.ProgrammingError, psycopg.InterfaceError) as exc:
        # raised while parsing the URL, and libpq may quote part of it: name only the kind of error
        raise RuntimeError(f"LiteLLM database ({DATABASE_URL_VAR}): {type(exc).__name__}; check the URL") from None
    except psycopg.Error as exc:
        # server and connection errors name the host or the query, never the password or the URL
        raise RuntimeError(f"LiteLLM database ({DATABASE_URL_VAR}): {type(exc).__name__}: {exc}") from exc


_EXPORT_NAME = "spend_logs_%Y%m%dT%H%M%S%fZ.csv"


def exported_at(path: Path) -> dt.datetime | None:
    """When an export file was written (UTC, naive), from its name; None for a file named otherwise."""
    try:
        return dt.datetime.strptime(path.name, _EXPORT_NAME)
    except ValueError:
        return None


def export_spend_logs(con, landing_dir: Path, url: str, now: dt.datetime | None = None) -> Path | None:
    """Land the spend logs started since the watermark as `litellm/db/spend_logs_<now>.csv`; None if none.

    The lookback reads some rows again; those already in an earlier export (any export written since
    the watermark, the only ones that can hold such rows) are left out, so each row lands once and a
    run with nothing new lands nothing. The file is written under `.partial/` and moved into place
    only when complete, so a failed export leaves nothing for the loader to pick up.
    """
    now = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None)
    folder = export_folder(landing_dir)
    partial = folder / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    name = now.strftime(_EXPORT_NAME)
    fetched, filtered = partial / ("fetched_" + name), partial / name
    since = watermark(con, landing_dir)
    try:
        with fetched.open("wb") as out:
            copy_spend_logs(url, since, out)
        if not _has_rows(fetched):
            return None
        earlier = sorted(str(p) for p in folder.glob("spend_logs_*.csv")
                         if (at := exported_at(p)) is not None and (since is None or at >= since))
        read = f"read_csv({sql_literal(str(fetched))}, header = true, all_varchar = true)"
        already = (f"where request_id not in (select request_id from read_csv([{', '.join(map(sql_literal, earlier))}], "
                   "header = true, all_varchar = true, union_by_name = true) where request_id is not null)"
                   if earlier else "")
        con.execute(f"copy (select * from {read} {already}) to {sql_literal(str(filtered))} (format csv, header)")
        if not _has_rows(filtered):
            return None
        target = folder / name
        filtered.replace(target)
        return target
    finally:
        fetched.unlink(missing_ok=True)
        filtered.unlink(missing_ok=True)


def _has_rows(csv_path: Path) -> bool:
    """True when a CSV file with a header line has at least one more line."""
    with csv_path.open("rb") as f:
        f.readline()
        return bool(f.readline())
