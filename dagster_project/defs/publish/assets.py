"""`published/warehouse`: the file BI tools open, replaced only after a build whose checks passed.

The asset depends on every mart and on `ops/alerts`, so it runs after dbt has built them and their
blocking checks (the dbt tests, run by `dbt build`) have passed: a failed error-severity dbt test fails
the dbt step and this asset does not run. It also refuses to publish while the latest evaluation of
any error-severity check on those assets failed, blocking or not, so a bad build never replaces a good published copy. Its step has the lowest priority, so
within a run it starts after every check that is ready to run, and so reads this run's verdicts.

The copy itself is `lib/publish.py`: a new file beside `TOKENSPEND_PUBLISHED_PATH`, renamed over it.
"""

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from dagster_project.defs.dbt.assets import tokenspend_dbt_models
from dagster_project.lib.deployment import check_warehouse_mode
from dagster_project.lib.publish import publish
from dagster_project.settings import current_settings

MARTS = sorted((spec.key for spec in tokenspend_dbt_models.specs if spec.group_name == "marts"), key=str)
ALERTS = dg.AssetKey(["ops", "alerts"])
PUBLISHED = [*MARTS, ALERTS]
LAST = "-100"  # step priority: after every other step that is ready at the same time


def check_keys(context: dg.AssetExecutionContext, assets: list[dg.AssetKey]) -> list[dg.AssetCheckKey]:
    """Every check on `assets`: those of this run's job and those of the whole code location (a run that
    selects the publish alone has no checks in its job, but the marts' latest verdicts still count)."""
    from dagster_project.definitions import defs

    location = defs() if callable(defs) else defs
    keys = set(context.job_def.asset_layer.asset_graph.asset_check_keys)
    keys |= set(location.resolve_asset_graph().asset_check_keys)
    wanted = set(assets)
    return sorted((k for k in keys if k.asset_key in wanted), key=lambda k: k.to_user_string())


def check_verdicts(context: dg.AssetExecutionContext, assets: list[dg.AssetKey]) -> tuple[list[str], list[str]]:
    """Error-severity checks on `assets` whose latest evaluation failed, and checks planned in this run
    that have not reported yet (names as `asset:check`)."""
    keys = check_keys(context, assets)
    if not keys:
        return [], []
    records = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    failed, pending = [], []
    for key, record in sorted(records.items(), key=lambda kv: kv[0].to_user_string()):
        if record.status == AssetCheckExecutionRecordStatus.FAILED:
            evaluation = record.event.asset_check_evaluation if record.event else None
            if evaluation is None or evaluation.severity == dg.AssetCheckSeverity.ERROR:
                failed.append(key.to_user_string())
        elif record.status == AssetCheckExecutionRecordStatus.PLANNED and record.run_id == context.run_id:
            pending.append(key.to_user_string())
    return failed, pending


@dg.asset(
    key=["published", "warehouse"],
    group_name="publish",
    deps=PUBLISHED,
    kinds={"duckdb"},
    op_tags={"dagster/priority": LAST},
    description=(
        "The file BI tools open (TOKENSPEND_PUBLISHED_PATH, default warehouse/published/tokenspend.duckdb): "
        "schema marts, ops.alerts and ops.publication, copied from the warehouse file into a new file and "
        "renamed over the previous one after each build whose error-severity checks passed. Open it read-only; "
        "a connection keeps the version it opened until it reconnects."
    ),
)
def published_warehouse(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    failed, pending = check_verdicts(context, PUBLISHED)
    if failed:
        raise dg.Failure(
            description=(
                f"not published: {len(failed)} error-severity check(s) failed on the marts "
                f"({', '.join(failed[:10])}{', ...' if len(failed) > 10 else ''}); "
                "the published copy stays as it was"
            ),
            metadata={"failed_checks": dg.MetadataValue.json(failed)},
        )
    if pending:
        context.log.warning(f"checks planned in this run that have not reported: {', '.join(pending)}")
    config = current_settings()
    working = config.duckdb_path
    result = publish(working, config.published_path, run_id=context.run_id,
                     guard=lambda con: check_warehouse_mode(con, config, working, write=False))
    context.log.info(f"published {len(result.rows)} table(s) to {result.path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "published_at": result.published_at.isoformat(),
            "tables": dg.MetadataValue.json(result.rows),
            "fct_token_spend_rows": result.rows.get("marts.fct_token_spend", 0),
        }
    )
