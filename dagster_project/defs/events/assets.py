"""Incremental file loads: only files that are new or changed since the last load are read.

One asset per file source and raw table: `raw/request_events` (event-log files), `raw/litellm_spend_logs`
(LiteLLM spend logs; when a LiteLLM database is configured it first lands that database's new rows as
a file), `raw/otel_spans` (OpenTelemetry spans) and `raw/outcome_events` (workflow outcomes). Each lands
its source as it came; dbt staging maps the three request-level sources onto one request.
"""

import dagster as dg

from dagster_project.defs.events import litellm
from dagster_project.defs.events.otel import OTEL_FILES
from dagster_project.defs.events.sources import EVENT_FILES, OUTCOME_FILES
from dagster_project.lib.deployment import landing_folder, open_warehouse
from dagster_project.lib.file_ingest import FileSource, LoadSummary, load_new_files


def _metadata(summaries: dict[str, LoadSummary]) -> dict:
    totals = LoadSummary()
    for s in summaries.values():
        totals.files_seen += s.files_seen
        totals.files_loaded += s.files_loaded
        totals.rows_loaded += s.rows_loaded
        totals.rows_rejected += s.rows_rejected
        totals.quarantined += s.quarantined
    table = "\n".join(
        ["| source | files seen | new files | quarantined files | rows loaded | rows rejected |",
         "|---|---|---|---|---|---|"]
        + [f"| {n} | {s.files_seen} | {s.files_loaded} | {s.files_quarantined} | {s.rows_loaded} | {s.rows_rejected} |"
           for n, s in summaries.items()]
    )
    metadata = {
        "files_seen": totals.files_seen,
        "files_loaded": totals.files_loaded,
        "files_quarantined": totals.files_quarantined,
        "rows_loaded": totals.rows_loaded,
        "rows_rejected": totals.rows_rejected,
        "by_source": dg.MetadataValue.md(table),
    }
    if totals.quarantined:
        metadata["quarantined_files"] = dg.MetadataValue.json(
            [{"path": path, "reason": reason} for path, reason in totals.quarantined])
    return metadata


def _log(context: dg.AssetExecutionContext, name: str, summary: LoadSummary) -> None:
    context.log.info(
        f"{name}: {summary.files_loaded} new file(s) of {summary.files_seen}, "
        f"{summary.rows_loaded} row(s) loaded, {summary.rows_rejected} rejected, "
        f"{summary.files_quarantined} file(s) quarantined"
    )
    for path, reason in summary.quarantined:
        context.log.warning(f"{name}: quarantined {path}: {reason} (read again once the file changes)")


def _load(context: dg.AssetExecutionContext, source: FileSource) -> dg.MaterializeResult:
    with open_warehouse() as con:
        summary = load_new_files(con, source, landing_folder())
    _log(context, source.name, summary)
    return dg.MaterializeResult(metadata=_metadata({source.name: summary}))


@dg.asset(
    key=["raw", "request_events"],
    group_name="ingest_events",
    kinds={"duckdb", "file"},
    description=(
        "Tagged request-level events in the documented event-log format, one row per line: JSONL, CSV or "
        "Parquet files (gzip allowed) in $TOKENSPEND_LANDING_DIR/events. Staging merges them with the "
        "LiteLLM and OpenTelemetry sources, one row per request."
    ),
    metadata={"landing_folder": f"$TOKENSPEND_LANDING_DIR/{EVENT_FILES.subdir}", "raw_table": "raw.request_events"},
)
def request_events(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _load(context, EVENT_FILES)


@dg.asset(
    key=["raw", "litellm_spend_logs"],
    group_name="ingest_events",
    kinds={"duckdb", "file"},
    description=(
        "LiteLLM proxy spend logs, one row per call that reached the provider, in LiteLLM's own fields: "
        "JSONL or CSV exports of LiteLLM_SpendLogs in $TOKENSPEND_LANDING_DIR/litellm, plus the proxy "
        "database's new rows when TOKENSPEND_LITELLM_DATABASE_URL is set (landed as a CSV file first)."
    ),
    metadata={"landing_folder": f"$TOKENSPEND_LANDING_DIR/{litellm.LITELLM_FILES.subdir}",
              "raw_table": "raw.litellm_spend_logs"},
)
def litellm_spend_logs(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    url = litellm.database_url()
    extra = {}
    if url:
        with open_warehouse() as con:
            exported = litellm.export_spend_logs(con, landing_folder(), url)
        context.log.info(f"LiteLLM database: {'landed ' + exported.name if exported else 'no new rows'}")
        extra["litellm_database_export"] = exported.name if exported else "no new rows"
    result = _load(context, litellm.LITELLM_FILES)
    return dg.MaterializeResult(metadata={**result.metadata, **extra})


@dg.asset(
    key=["raw", "otel_spans"],
    group_name="ingest_events",
    kinds={"duckdb", "file"},
    description=(
        "OpenTelemetry GenAI inference spans, one row per span that reports usage: OTLP/JSON "
        "ExportTraceServiceRequest files in $TOKENSPEND_LANDING_DIR/otel (gzip allowed)."
    ),
    metadata={"landing_folder": f"$TOKENSPEND_LANDING_DIR/{OTEL_FILES.subdir}", "raw_table": "raw.otel_spans"},
)
def otel_spans(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _load(context, OTEL_FILES)


@dg.asset(
    key=["raw", "outcome_events"],
    group_name="ingest_events",
    kinds={"duckdb", "file"},
    description=(
        "Workflow outcome events (task completed with success or failure; parent_task_id for tasks started "
        "by another task, e.g. a sub-agent) from $TOKENSPEND_LANDING_DIR/outcomes."
    ),
    metadata={"landing_folder": f"$TOKENSPEND_LANDING_DIR/{OUTCOME_FILES.subdir}", "raw_table": "raw.outcome_events"},
)
def outcome_events(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _load(context, OUTCOME_FILES)
