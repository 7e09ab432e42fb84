"""`exports/spend_report`: the spend report (`dagster_project/report/`) as an HTML file in the export folder.

It reads the published copy (`TOKENSPEND_PUBLISHED_PATH`), so it runs after `published/warehouse` and
shows exactly what BI tools see: a build whose error-severity checks failed publishes nothing, and the
report stays as it was with it. It never opens the warehouse file builds write. Its upstream assets are
the publish and the marts it draws from, so the lineage shows which marts feed it; a mart of a later
version (the spend-change and customer marts) joins them as soon as the dbt project has it.
"""

import dagster as dg

from dagster_project.defs.dbt.assets import tokenspend_dbt_models
from dagster_project.report import REPORT_FILE, write_report
from dagster_project.report.sections import SECTIONS
from dagster_project.settings import current_settings

PUBLISHED = dg.AssetKey(["published", "warehouse"])
READ_TABLES = {table for spec in SECTIONS for table in spec.source.tables}
REPORT_MARTS = sorted(
    (spec.key for spec in tokenspend_dbt_models.specs
     if spec.group_name == "marts" and f"marts.{spec.key.path[-1]}" in READ_TABLES),
    key=str,
)


@dg.asset(
    key=["exports", "spend_report"],
    group_name="report",
    deps=[PUBLISHED, *REPORT_MARTS],
    kinds={"html"},
    description=(
        f"The spend report, {REPORT_FILE} in the export folder (TOKENSPEND_EXPORT_DIR; the demo's "
        "warehouse/demo/exports): spend over time by provider and model, features by cost per interaction, "
        "workflows against their baseline with the savings, teams by spend per active seat with the idle seats "
        "named, the untagged share with the offenders by name, budgets and open alerts, reconciliation "
        "variance by cause, why spend changed, customers. One HTML file with its charts' script inlined: it "
        "opens from disk, with no server and no network. Drawn from the published copy after each publish."
    ),
)
def spend_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    config = current_settings()
    written = write_report(config.published_path, config.export_dir / REPORT_FILE)
    sections = {s.key: s.status for s in written.report.sections}
    context.log.info(f"spend report: {written.path} ({written.bytes:,} bytes, {len(written.report.charts)} charts)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(written.path)),
            "bytes": written.bytes,
            "charts": len(written.report.charts),
            "sections": dg.MetadataValue.json(sections),
            "source": dg.MetadataValue.path(str(written.report.source)),
        }
    )
