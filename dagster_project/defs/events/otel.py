"""OpenTelemetry GenAI spans in OTLP/JSON files (ExportTraceServiceRequest documents).

Files land in `$TOKENSPEND_LANDING_DIR/otel/` (`.json` or `.jsonl`, gzip allowed): one document per
file (pretty-printed or not) or JSON lines of documents, as an OTLP/HTTP receiver or the collector's
file exporter writes them. The source's own `reader` explodes resourceSpans -> scopeSpans -> spans
in DuckDB into ONE record per span (the span's and its resource's attributes as flat objects), and one
SELECT checks each span against `raw.otel_spans` and lands it under the semantic conventions' names
(they are Development status, so a deprecated name is read when the current one is absent:
gen_ai.system for gen_ai.provider.name, gen_ai.usage.prompt_tokens / completion_tokens for
input_tokens / output_tokens). dbt's `stg_otel__spans` maps a span onto tokenspend's request (request
id, disjoint token classes, tags through TOKENSPEND_OTEL_TAG_MAP).

Spans without usage (tool calls, retrieval) and agent or workflow spans (whose usage, where an
instrumentation sets it, repeats their inference spans') are skipped, not landed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from dagster_project.defs.events.sources import PROVIDERS_SQL, token_checks, whole_number
from dagster_project.lib.file_ingest import FileSource, records_sql, sql_literal

SOURCE_NAME = "otel_files"
# gen_ai.operation.name values whose spans wrap inference spans: never counted themselves.
AGGREGATE_OPERATIONS = ("invoke_agent", "create_agent", "invoke_workflow", "execute_tool")


# --- reader: one record per span ---------------------------------------------------------------------

def _attribute_value(a: str) -> str:
    """An OTLP AnyValue as text: ints arrive as strings or numbers, arrays as their JSON."""
    v = f"({a} -> 'value')"
    return (f"coalesce({v} ->> 'stringValue', {v} ->> 'intValue', {v} ->> 'doubleValue', {v} ->> 'boolValue', "
            f"cast({v} -> 'arrayValue' as varchar))")


def _attributes_object(attributes: str) -> str:
    """An OTLP attribute list as one flat JSON object {key: text}; the first of a repeated key wins."""
    entries = (f"list_filter(cast(coalesce({attributes}, '[]') as json[]), lambda a: (a ->> 'key') is not null)")
    return (f"to_json(map_from_entries(list_filter("
            f"list_transform({entries}, lambda a: struct_pack(k := a ->> 'key', v := {_attribute_value('a')})), "
            f"lambda e, i: list_position(list_transform({entries}, lambda a: a ->> 'key'), e.k) = i)))")


def _is_json_lines(path: Path) -> bool:
    """True when the first non-blank line is a whole JSON value (JSON lines, or a one-line document)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    json.loads(line)
                except ValueError:
                    return False
                return True
    return True


def otlp_records_sql(path: Path, fmt: str) -> str:
    """The `records` relation for an OTLP/JSON file: one record per span.

    `_source_line` is the line of the span's document (JSON lines) or the document's number (a
    pretty-printed file); `raw_record` is the span with its resource. A line that is not JSON, or a
    document without `resourceSpans`, becomes one record that the mapping rejects.
    """
    if fmt != "jsonl":
        raise ValueError(f"{path}: OTLP spans must be OTLP/JSON (.json or .jsonl), not {fmt}")
    if _is_json_lines(path):
        documents = records_sql(path, "jsonl")
    else:
        p = sql_literal(str(path))
        documents = f"""
            select {p} as _source_file, row_number() over () as _source_line, json as rec, cast(json as varchar) as raw_record
            from read_json_objects({p}, format = 'unstructured', compression = 'auto', maximum_object_size = 1073741824)"""
    return f"""
        with documents as ({documents}),
        is_export as (
            select *, coalesce(json_type(rec) = 'OBJECT' and json_type(rec -> 'resourceSpans') = 'ARRAY', false) as ok
            from documents
        ),
        resource_spans as (
            select _source_file, _source_line, unnest(cast(rec -> 'resourceSpans' as json[])) as rs
            from is_export where ok
        ),
        scope_spans as (
            select _source_file, _source_line, rs -> 'resource' as resource,
                   unnest(cast(coalesce(rs -> 'scopeSpans', '[]') as json[])) as ss
            from resource_spans
        ),
        spans as (
            select _source_file, _source_line, resource,
                   unnest(cast(coalesce(ss -> 'spans', '[]') as json[])) as span
            from scope_spans
        )
        select _source_file, _source_line,
            json_object('traceId', span ->> 'traceId', 'spanId', span ->> 'spanId', 'name', span ->> 'name',
                        'startTimeUnixNano', span ->> 'startTimeUnixNano',
                        'attributes', {_attributes_object("span -> 'attributes'")},
                        'resource', {_attributes_object("resource -> 'attributes'")}) as rec,
            cast(json_object('resource', resource, 'span', span) as varchar) as raw_record
        from spans
        union all
        select _source_file, _source_line,
            case when rec is not null and json_type(rec) = 'OBJECT'
                 then json_object('doc_error', 'not an OTLP/JSON ExportTraceServiceRequest (no resourceSpans list)')
                 else rec end,
            raw_record
        from is_export where not ok"""


# --- the raw contract --------------------------------------------------------------------------------

_SPAN_ATTRIBUTES = (
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.response.model", "gen_ai.request.model",
    "gen_ai.response.id", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens", "openai.response.service_tier",
)
_TOKENS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _parse_sql() -> str:
    """The SELECT that checks each span record against `raw.otel_spans` and lands it under the conventions' names."""
    paths = ["$.doc_error", "$.traceId", "$.spanId", "$.name", "$.startTimeUnixNano"]
    paths += [f'$.attributes."{a}"' for a in _SPAN_ATTRIBUTES]

    def v(path: str) -> str:
        return f"nullif(trim(v[{paths.index(path) + 1}]), '')"

    def attr(name: str) -> str:
        return v(f'$.attributes."{name}"')

    quoted_paths = ", ".join(sql_literal(p) for p in paths)
    aggregate_ops = ", ".join(f"'{o}'" for o in AGGREGATE_OPERATIONS)
    return f"""
    , extracted as (
        select *, case when rec is not null and json_type(rec) = 'OBJECT'
                       then json_extract_string(rec, [{quoted_paths}]) end as v
        from records
    )
    , fields as (
        select _source_file, _source_line, raw_record, rec,
            {v('$.doc_error')} as doc_error,
            lower({v('$.traceId')}) as trace_id,
            lower({v('$.spanId')}) as span_id,
            {v('$.name')} as span_name,
            {v('$.startTimeUnixNano')} as start_text,
            lower({attr('gen_ai.operation.name')}) as operation_name,
            coalesce({attr('gen_ai.provider.name')}, {attr('gen_ai.system')}) as provider_name,
            {attr('gen_ai.request.model')} as request_model,
            {attr('gen_ai.response.model')} as response_model,
            {attr('gen_ai.response.id')} as response_id,
            coalesce({attr('gen_ai.usage.input_tokens')}, {attr('gen_ai.usage.prompt_tokens')}) as input_tokens_text,
            coalesce({attr('gen_ai.usage.output_tokens')}, {attr('gen_ai.usage.completion_tokens')}) as output_tokens_text,
            {attr('gen_ai.usage.cache_read.input_tokens')} as cache_read_input_tokens_text,
            {attr('gen_ai.usage.cache_creation.input_tokens')} as cache_creation_input_tokens_text,
            {attr('openai.response.service_tier')} as service_tier,
            case when rec is not null and json_type(rec) = 'OBJECT' then cast(rec -> 'attributes' as varchar) end
                as span_attributes,
            case when rec is not null and json_type(rec) = 'OBJECT' then cast(rec -> 'resource' as varchar) end
                as resource_attributes
        from extracted
    )
    , typed as (
        select *,
            {whole_number('start_text')} as start_ns,
            {", ".join(f"{whole_number(t + '_text')} as {t}" for t in _TOKENS)},
            input_tokens_text is not null or output_tokens_text is not null as has_usage
        from fields
    )
    select
        trace_id, span_id, span_name,
        make_timestamp(start_ns // 1000) as start_time,
        operation_name, provider_name, request_model, response_model, response_id,
        {", ".join(_TOKENS)},
        service_tier, span_attributes, resource_attributes,
        _source_file, _source_line, raw_record,
        case
            when rec is null then 'not valid JSON'
            when json_type(rec) <> 'OBJECT' then 'not a JSON object'
            when doc_error is not null then doc_error
            when trace_id is null or span_id is null then 'missing traceId or spanId'
            when start_text is null then 'missing startTimeUnixNano'
            when start_ns is null or start_ns < 0 then 'startTimeUnixNano is not a timestamp: ' || start_text
            when provider_name is null then 'missing gen_ai.provider.name'
            when lower(provider_name) not in ({PROVIDERS_SQL}) then 'unknown provider: ' || provider_name
            when coalesce(response_model, request_model) is null then 'missing gen_ai.response.model'
            when input_tokens_text is null then 'missing gen_ai.usage.input_tokens'
            {token_checks(_TOKENS)}
            when input_tokens < coalesce(cache_read_input_tokens, 0) + coalesce(cache_creation_input_tokens, 0) then
                'gen_ai.usage.input_tokens ' || input_tokens || ' is less than cache_read '
                || coalesce(cache_read_input_tokens, 0) || ' + cache_creation '
                || coalesce(cache_creation_input_tokens, 0) || ' (input includes both)'
        end as _reject_reason
    from typed
    -- spans that are not inference calls: skipped, not landed
    where rec is null or json_type(rec) <> 'OBJECT' or doc_error is not null
       or (has_usage and coalesce(operation_name, '') not in ({aggregate_ops}))"""


OTEL_FILES = FileSource(name=SOURCE_NAME, table="otel_spans", subdir="otel", parse_sql=_parse_sql(),
                        reader=otlp_records_sql)
