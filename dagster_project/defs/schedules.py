"""Daily schedules: fetch yesterday's provider partitions (plus the trailing re-fetch), then rebuild.

Provider ingest runs at 02:00 UTC for the day that just ended, for the providers the deployment enables
(`TOKENSPEND_PROVIDERS`, else those whose admin key is set; read at each tick). A provider enabled
without its key fails the tick, naming the variable, and starts nothing: no provider is ever answered by
the demo. Every run also re-fetches `TOKENSPEND_REFETCH_DAYS` before its day, because providers revise
recent buckets. The warehouse build (file sources, dbt models and tests, checks) follows at 03:00 UTC
and ends by replacing the published copy BI tools open, when its error-severity checks passed: BI tools
see a new version once a day.
"""

import datetime as dt

import dagster as dg

from dagster_project.defs.anthropic.endpoints import ENDPOINTS as ANTHROPIC_ENDPOINTS
from dagster_project.defs.openai.endpoints import ENDPOINTS as OPENAI_ENDPOINTS
from dagster_project.lib.provider_assets import DAILY
from dagster_project.settings import current_settings

PROVIDER_GROUPS = ("ingest_openai", "ingest_anthropic")
PROVIDER_ASSETS = {
    provider: [dg.AssetKey(["raw", e.table]) for e in endpoints]
    for provider, endpoints in (("openai", OPENAI_ENDPOINTS), ("anthropic", ANTHROPIC_ENDPOINTS))
}

provider_ingest = dg.define_asset_job(
    "provider_ingest",
    selection=dg.AssetSelection.groups(*PROVIDER_GROUPS),
    partitions_def=DAILY,
    description="Provider usage and cost for the selected days (plus the trailing re-fetch).",
)

warehouse_build = dg.define_asset_job(
    "warehouse_build",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(*PROVIDER_GROUPS, "demo"),
    description=(
        "Event and outcome files, every dbt model and test, the asset checks, then the published copy BI tools "
        "open (replaced only when the error-severity checks passed)."
    ),
)


@dg.schedule(
    name="provider_ingest_daily",
    job=provider_ingest,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Yesterday's partition of every enabled provider's ingest assets.",
)
def provider_ingest_daily(context: dg.ScheduleEvaluationContext):
    config = current_settings()
    providers = config.enabled_providers
    if not providers:
        return dg.SkipReason("no provider enabled: set OPENAI_ADMIN_KEY or ANTHROPIC_ADMIN_KEY (or TOKENSPEND_PROVIDERS)")
    config.require_provider_keys(providers)
    tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = tick.astimezone(dt.UTC).date() - dt.timedelta(days=1)  # the UTC day that just ended
    if day < config.start_date:
        return dg.SkipReason(f"{day} is before the first daily partition {config.start_date} (TOKENSPEND_START_DATE)")
    partition = day.isoformat()
    return dg.RunRequest(
        run_key=partition,
        partition_key=partition,
        asset_selection=[key for p in providers for key in PROVIDER_ASSETS[p]],
        tags={"tokenspend/providers": ",".join(providers)},
    )


warehouse_build_daily = dg.ScheduleDefinition(
    name="warehouse_build_daily",
    job=warehouse_build, cron_schedule="0 3 * * *", execution_timezone="UTC"
)
