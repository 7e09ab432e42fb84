"""OpenTelemetry GenAI spans in OTLP/JSON files (ExportTraceServiceRequest documents).

Files land in `$TOKENSPEND_LANDING_DIR/otel/` (`.json` or `.jsonl`, gzip allowed): one document per
file (pretty-printed or not) or JSON lines of documents, as an OTLP/HTTP receiver or the collector's
file exporter writes them. The source's own `reader` explodes resourceSpans -> scopeSpans -> spans
in DuckDB into ONE record per span (the span's and its resource's attributes as flat objects), so the
mapping below is one SELECT like every other file source's.

Mapping (OpenTelemetry GenAI semantic conventions; semantic conventions are Development status, so deprecated
names are read too):
    request_id    gen_ai.response.id, else traceId:spanId
    provider      gen_ai.provider.name, else gen_ai.system (deprecated)
    model         gen_ai.response.model, else gen_ai.request.model
    occurred_at   startTimeUnixNano (a decimal string or a number)
    tokens        gen_ai.usage.input_tokens (else prompt_tokens) INCLUDES cache_read.input_tokens and
                  cache_creation.input_tokens: uncached = input - cache_read - cache_creation;
                  output = output_tokens (else completion_tokens)
    service_tier  openai.response.service_tier
    tags          span or resource attributes named by TOKENSPEND_OTEL_TAG_MAP (span wins)
Spans without usage (tool calls, retrieval) and agent or workflow spans (whose usage, where an
instrumentation sets it, repeats their inference spans') are skipped, not rejected.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from dagster_project.defs.events.sources import PROVIDERS_SQL, TAG_FIELDS, token_checks, whole_number
from dagster_project.lib.file_ingest import FileSource, records_sql, sql_literal
from dagster_project.settings import current_settings

SOURCE_NAME = "otel_files"
TAG_MAP_VAR = "TOKENSPEND_OTEL_TAG_MAP"
# attribute=dimension pairs, in precedence order when several attributes feed one dimension.
DEFAULT_TAG_MAP = (
    "app.feature=feature,app.workflow=workflow,gen_ai.workflow.name=workflow,app.team=team,"
    "app.task_id=task_id,app.employee_id=employee_id,app.customer_id=customer_id"
)
TAG_DIMENSIONS = (*TAG_FIELDS, "project_id", "api_key_id")
# gen_ai.operation.name values whose spans wrap inference spans: never counted themselves.
AGGREGATE_OPERATIONS = ("invoke_agent", "create_agent", "invoke_workflow", "execute_tool")
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.\-/:]+")


def parse_tag_map(text: str) -> tuple[tuple[str, str], ...]:
    """`attr=dimension,...` as (attribute, dimension) pairs; raises ValueError naming the bad entry."""
    pairs = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        attribute, sep, dimension = (p.strip() for p in entry.partition("="))
        if not sep or not _ATTRIBUTE_KEY.fullmatch(attribute) or dimension not in TAG_DIMENSIONS:
            raise ValueError(
                f"{TAG_MAP_VAR}: {entry!r} is not attribute=dimension with a dimension in {', '.join(TAG_DIMENSIONS)}"
            )
        pairs.append((attribute, dimension))
    return tuple(pairs)


def tag_map() -> tuple[tuple[str, str], ...]:
    """The configured attribute -> dimension mapping (`TOKENSPEND_OTEL_TAG_MAP`, else the default)."""
    return parse_tag_map(current_settings().otel_tag_map or DEFAULT_TAG_MAP)


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


# --- mapping -----------------------------------------------------------------------------------------

_SPAN_ATTRIBUTES = (
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.response.model", "gen_ai.request.model",
    "gen_ai.response.id", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens", "openai.response.service_tier",
)
_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


def otel_parse_sql(mapping: tuple[tuple[str, str], ...]) -> str:
    """The mapping SELECT for spans, with tags read through `mapping` ((attribute, dimension) pairs)."""
    tag_attributes = tuple(dict.fromkeys(a for a, _ in mapping))
    paths = ["$.doc_error", "$.traceId", "$.spanId", "$.startTimeUnixNano"]
    paths += [f'$.attributes."{a}"' for a in _SPAN_ATTRIBUTES]
    paths += [f'$.attributes."{a}"' for a in tag_attributes] + [f'$.resource."{a}"' for a in tag_attributes]

    def v(path: str) -> str:
        return f"nullif(trim(v[{paths.index(path) + 1}]), '')"

    def attr(name: str) -> str:
        return v(f'$.attributes."{name}"')

    def tag(dimension: str) -> str:
        attributes = [a for a, d in mapping if d == dimension]
        candidates = [v(f'$.attributes."{a}"') for a in attributes] + [v(f'$.resource."{a}"') for a in attributes]
        return f"coalesce({', '.join(candidates)})" if candidates else "cast(null as varchar)"

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
            {v('$.startTimeUnixNano')} as start_text,
            lower({attr('gen_ai.operation.name')}) as operation,
            coalesce({attr('gen_ai.provider.name')}, {attr('gen_ai.system')}) as provider_text,
            coalesce({attr('gen_ai.response.model')}, {attr('gen_ai.request.model')}) as model,
            {attr('gen_ai.response.id')} as response_id,
            coalesce({attr('gen_ai.usage.input_tokens')}, {attr('gen_ai.usage.prompt_tokens')}) as input_tokens_text,
            coalesce({attr('gen_ai.usage.output_tokens')}, {attr('gen_ai.usage.completion_tokens')}) as output_tokens_text,
            {attr('gen_ai.usage.cache_read.input_tokens')} as cache_read_tokens_text,
            {attr('gen_ai.usage.cache_creation.input_tokens')} as cache_creation_tokens_text,
            {attr('openai.response.service_tier')} as service_tier,
            {", ".join(f"{tag(d)} as {d}" for d in TAG_DIMENSIONS)}
        from extracted
    )
    , typed as (
        select *,
            lower(provider_text) as provider,
            {whole_number('start_text')} as start_ns,
            {", ".join(f"{whole_number(t + '_text')} as {t}" for t in _TOKENS)}
        from fields
    )
    , mapped as (
        select *,
            coalesce(response_id, trace_id || ':' || span_id) as request_id,
            input_tokens - coalesce(cache_read_tokens, 0) - coalesce(cache_creation_tokens, 0) as uncached_input_tokens,
            input_tokens_text is not null or output_tokens_text is not null as has_usage
        from typed
    )
    select
        request_id,
        make_timestamp(start_ns // 1000) as occurred_at,
        provider, model, api_key_id, project_id,
        uncached_input_tokens,
        coalesce(cache_read_tokens, 0) as cache_read_input_tokens,
        coalesce(cache_creation_tokens, 0) as cache_write_input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        false as batch,
        service_tier,
        {", ".join(TAG_FIELDS)},
        'otel' as source_system,
        cast(null as varchar) as raw_tags,
        cast(json_object('gen_ai.usage.input_tokens', input_tokens, 'gen_ai.usage.output_tokens', output_tokens,
                         'gen_ai.usage.cache_read.input_tokens', cache_read_tokens,
                         'gen_ai.usage.cache_creation.input_tokens', cache_creation_tokens,
                         'trace_id', trace_id, 'span_id', span_id) as varchar) as source_usage,
        _source_file, _source_line, raw_record,
        case
            when rec is null then 'not valid JSON'
            when json_type(rec) <> 'OBJECT' then 'not a JSON object'
            when doc_error is not null then doc_error
            when request_id is null then 'missing gen_ai.response.id and traceId/spanId'
            when start_text is null then 'missing startTimeUnixNano'
            when start_ns is null or start_ns < 0 then 'startTimeUnixNano is not a timestamp: ' || start_text
            when provider_text is null then 'missing gen_ai.provider.name'
            when provider not in ({PROVIDERS_SQL}) then 'unknown provider: ' || provider_text
            when model is null then 'missing gen_ai.response.model'
            when input_tokens_text is null then 'missing gen_ai.usage.input_tokens'
            {token_checks(_TOKENS)}
            when uncached_input_tokens < 0 then
                'gen_ai.usage.input_tokens ' || input_tokens || ' is less than cache_read ' || coalesce(cache_read_tokens, 0)
                || ' + cache_creation ' || coalesce(cache_creation_tokens, 0) || ' (input includes both)'
        end as _reject_reason
    from mapped
    -- spans that are not inference calls: skipped, not rejected
    where rec is null or json_type(rec) <> 'OBJECT' or doc_error is not null
       or (has_usage and coalesce(operation, '') not in ({aggregate_ops}))"""


def otel_file_source(mapping: tuple[tuple[str, str], ...] | None = None) -> FileSource:
    """The OTLP/JSON span source, tags read through `mapping` (default: the configured tag map)."""
    mapping = tag_map() if mapping is None else mapping
    return FileSource(name=SOURCE_NAME, table="request_events", subdir="otel", parse_sql=otel_parse_sql(mapping),
                      reader=otlp_records_sql)
