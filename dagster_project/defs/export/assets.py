"""`exports/focus_files`: the FOCUS cost and usage dataset as CSV and Parquet, for FinOps tools.

The dbt model `exports.focus_cost_and_usage` maps the token-spend fact onto the FinOps FOCUS columns; this
asset writes it to `<exports>/focus/focus_cost_and_usage.csv` and `.parquet` (TOKENSPEND_EXPORT_DIR,
default `exports/` beside the warehouse file). It runs after the published copy: a build whose
error-severity checks failed publishes nothing and leaves these files as they were too, so the files
and what BI tools read come from the same build. The warehouse is read through one read-only connection,
closed once the table is copied to Parquet (dagster_project/export/files.py).
"""

import dagster as dg

from dagster_project.export.files import FOCUS_SCHEMA, FOCUS_TABLE, export_files
from dagster_project.lib.deployment import open_warehouse
from dagster_project.settings import current_settings

FOCUS_MODEL = dg.AssetKey([FOCUS_SCHEMA, FOCUS_TABLE])
PUBLISHED = dg.AssetKey(["published", "warehouse"])


@dg.asset(
    key=["exports", "focus_files"],
    group_name="exports",
    deps=[FOCUS_MODEL, PUBLISHED],
    kinds={"csv", "parquet"},
    description=(
        "The FinOps FOCUS cost and usage dataset (token spend by day, provider, project, SKU = model x token "
        "class, with feature, workflow, team and customer) as focus/focus_cost_and_usage.csv and .parquet in "
        "$TOKENSPEND_EXPORT_DIR, replaced after each build that published. BilledCost ties to the providers' "
        "cost reports per day and provider."
    ),
)
def focus_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    config = current_settings()
    result = export_files(lambda: open_warehouse(config, read_only=True), config.export_dir, marts=False)
    (table,) = result.tables
    context.log.info(f"FOCUS export: {table.rows} rows to {', '.join(str(p) for p in table.paths)} "
                     f"(warehouse read for {result.held_seconds:.1f} s)")
    return dg.MaterializeResult(
        metadata={
            "rows": table.rows,
            "files": dg.MetadataValue.json([str(p) for p in table.paths]),
            "warehouse_read_seconds": round(result.held_seconds, 2),
        }
    )
