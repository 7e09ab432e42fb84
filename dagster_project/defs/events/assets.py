"""Incremental file loads: only files that are new or changed since the last load are read.

One asset per raw table. `raw/request_events` loads every source of request-level events (event-log
files, LiteLLM spend logs, OpenTelemetry spans), each a `FileSource` into the same table; when a
LiteLLM database is configured it first lands that database's new rows as a file. `raw/outcome_events`
loads the workflow outcome files.
"""

import dagster as dg

from dagster_project.defs.events import litellm
from dagster_project.defs.events.otel import otel_file_source
from dagster_project.defs.events.sources import EVENT_FILES, OUTCOME_FILES
from dagster_project.lib.deployment import landing_folder, open_warehouse
from dagster_project.lib.file_ingest import FileSource, LoadSummary, load_new_files


def request_event_sources() -> list[FileSource]:
    """Every file source that feeds `raw.request_events`, configured from the environment now."""
    return [EVENT_FILES, litellm.LITELLM_FILES, otel_file_source()]


def _metadata(summaries: dict[str, LoadSummary]) -> dict:
    totals = LoadSummary()
    for s in summaries.values():
        totals.files_seen += s.files_seen
        totals.files_loaded += s.files_loaded
        totals.rows_loaded += s.rows_loaded
        totals.rows_rejected += s.rows_rejected
    table = "\n".join(
        ["| source | files seen | new files | rows loaded | rows rejected |", "|---|---|---|---|---|"]
        + [f"| {n} | {s.files_seen} | {s.files_loaded} | {s.rows_loaded} | {s.rows_rejected} |"
           for n, s in summaries.items()]
    )
    return {
        "files_seen": totals.files_seen,
        "files_loaded": totals.files_loaded,
        "rows_loaded": totals.rows_loaded,
        "rows_rejected": totals.rows_rejected,
        "by_source": dg.MetadataValue.md(table),
    }


def _log(context: dg.AssetExecutionContext, name: str, summary: LoadSummary) -> None:
    context.log.info(
        f"{name}: {summary.files_loaded} new file(s) of {summary.files_seen}, "
        f"{summary.rows_loaded} row(s) loaded, {summary.rows_rejected} rejected"
    )


@dg.asset(
    key=["raw", "request_events"],
    group_name="ingest_events",
    kinds={"duckdb", "file"},
    description=(
        "Tagged request-level events, one row per file line or span, from three sources: event-log files "
        "(JSONL, CSV or Parquet, gzip allowed) in $TOKENSPEND_LANDING_DIR/events; LiteLLM spend logs "
        "(JSONL or CSV exports of LiteLLM_SpendLogs) in $TOKENSPEND_LANDING_DIR/litellm, plus the proxy "
        "database's new rows when TOKENSPEND_LITELLM_DATABASE_URL is set; OpenTelemetry GenAI spans "
        "(OTLP/JSON) in $TOKENSPEND_LANDING_DIR/otel. source_system says which; duplicates within and "
        "across sources are removed in staging."
    ),
    metadata={
        "landing_folders": "$TOKENSPEND_LANDING_DIR/{events,litellm,otel}",
        "raw_table": "raw.request_events",
    },
)
def request_events(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    landing = landing_folder()
    sources = request_event_sources()
    summaries: dict[str, LoadSummary] = {}
    extra = {}
    with open_warehouse() as con:
        url = litellm.database_url()
        if url:
            exported = litellm.export_spend_logs(con, landing, url)
            context.log.info(f"LiteLLM database: {'landed ' + exported.name if exported else 'no new rows'}")
            extra["litellm_database_export"] = exported.name if exported else "no new rows"
        for source in sources:
            summaries[source.name] = load_new_files(con, source, landing)
            _log(context, source.name, summaries[source.name])
    return dg.MaterializeResult(metadata={**_metadata(summaries), **extra})


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
    with open_warehouse() as con:
        summary = load_new_files(con, OUTCOME_FILES, landing_folder())
    _log(context, OUTCOME_FILES.name, summary)
    return dg.MaterializeResult(metadata=_metadata({OUTCOME_FILES.name: summary}))
