"""Daily schedules: fetch yesterday's provider partitions (plus the trailing re-fetch), then rebuild.

Provider ingest runs at 02:00 UTC for the day that just ended; every run also re-fetches
`TOKENSPEND_REFETCH_DAYS` before it, because providers revise recent buckets. The warehouse build
(file sources, dbt models and tests, checks) follows at 03:00 UTC and ends by replacing the published
copy BI tools open, when its error-severity checks passed: BI tools see a new version once a day.
"""

import dagster as dg

from dagster_project.lib.provider_assets import DAILY

PROVIDER_GROUPS = ("ingest_openai", "ingest_anthropic")

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

provider_ingest_daily = dg.build_schedule_from_partitioned_job(
    provider_ingest, name="provider_ingest_daily", hour_of_day=2, minute_of_hour=0
)

warehouse_build_daily = dg.ScheduleDefinition(
    name="warehouse_build_daily",
    job=warehouse_build, cron_schedule="0 3 * * *", execution_timezone="UTC"
)
