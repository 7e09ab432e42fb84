"""Incremental file loads: only files that are new or changed since the last load are read."""

import dagster as dg

from dagster_project import settings
from dagster_project.defs.events.sources import EVENT_FILES, OUTCOME_FILES
from dagster_project.lib.file_ingest import FileSource, load_new_files
from dagster_project.lib.provider_assets import DEMO_ORG_KEY
from dagster_project.lib.warehouse import connect


def file_source_asset(source: FileSource, description: str) -> dg.AssetsDefinition:
    """The ingest asset `raw/<table>` for a folder of files."""

    @dg.asset(
        key=["raw", source.table],
        group_name="ingest_events",
        deps=[DEMO_ORG_KEY],
        kinds={"duckdb", "file"},
        description=description,
        metadata={"landing_folder": f"$TOKENSPEND_LANDING_DIR/{source.subdir}", "raw_table": f"raw.{source.table}"},
    )
    def _load(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with connect(settings.duckdb_path()) as con:
            summary = load_new_files(con, source, settings.landing_dir())
        context.log.info(
            f"{source.name}: {summary.files_loaded} new file(s) of {summary.files_seen}, "
            f"{summary.rows_loaded} row(s) loaded, {summary.rows_rejected} rejected"
        )
        return dg.MaterializeResult(
            metadata={
                "files_seen": summary.files_seen,
                "files_loaded": summary.files_loaded,
                "rows_loaded": summary.rows_loaded,
                "rows_rejected": summary.rows_rejected,
            }
        )

    return _load


request_events = file_source_asset(
    EVENT_FILES,
    "Tagged request-level events in the event-log format (JSONL, CSV or Parquet, gzip allowed) from "
    "$TOKENSPEND_LANDING_DIR/events. One row per file line; duplicates are removed in staging.",
)
outcome_events = file_source_asset(
    OUTCOME_FILES,
    "Workflow outcome events (task completed with success or failure) from $TOKENSPEND_LANDING_DIR/outcomes.",
)
