"""Daily provider ingest, and the warehouse build that follows it as soon as it succeeds.

Provider ingest runs at 02:00 UTC for the day that just ended, for the providers the deployment enables
(`TOKENSPEND_PROVIDERS`, else those whose admin key is set; read at each tick). A provider enabled
without its key fails the tick, naming the variable, and starts nothing: no provider is ever answered by
the demo. Every run also re-fetches `TOKENSPEND_REFETCH_DAYS` before its day, because providers revise
recent buckets.

The warehouse build (file sources, dbt models and tests, checks, publish) is started by the run-status
sensor `warehouse_build_after_ingest` when a `provider_ingest` run succeeds, whatever launched it (the
schedule, a re-run, a backfill), not at a fixed hour. A failed ingest starts no build. While a
`warehouse_build` run is queued and has not begun, a further successful ingest starts none: that build
reads the raw tables when it runs, so it includes the ingest, and a backfill of many partitions queues
one build, not one per partition. A deployment with no provider enabled (event and outcome files only)
has no ingest to follow: `warehouse_build_daily` builds at 02:00 UTC there and skips, naming the sensor,
wherever a provider is enabled (read at each tick).

Each build ends by replacing the published copy BI tools open, when its error-severity checks passed
(else the previous copy stays): BI tools see a new version shortly after each successful ingest, once a
day in steady state, more often after a re-run or backfill; a connection sees it when it reconnects.
Both schedules and the sensor are off until turned on (UI, Automation; or `dagster schedule start` /
`dagster sensor start`): turn on all three.
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
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(*PROVIDER_GROUPS, "demo", "prices"),
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


# A warehouse_build run in one of these states has not begun executing, so it reads whatever ingest
# committed before it starts (STARTING: launched, but the run worker has not started a step yet).
NOT_BEGUN = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]


@dg.run_status_sensor(
    name="warehouse_build_after_ingest",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[provider_ingest],
    request_job=warehouse_build,
    description=(
        "Builds the warehouse after each successful provider_ingest run, unless a warehouse_build run is "
        "already waiting to start (it will include that ingest)."
    ),
)
def warehouse_build_after_ingest(context: dg.RunStatusSensorContext):
    ingest = context.dagster_run
    waiting = context.instance.get_runs(
        dg.RunsFilter(job_name=warehouse_build.name, statuses=NOT_BEGUN), limit=1
    )
    if waiting:
        return dg.SkipReason(
            f"provider_ingest run {ingest.run_id} succeeded, but warehouse_build run {waiting[0].run_id} is "
            f"{waiting[0].status.value.lower()} and has not begun: the queued build will include this ingest"
        )
    return dg.RunRequest(run_key=ingest.run_id, tags={"tokenspend/ingest_run": ingest.run_id})


@dg.schedule(
    name="warehouse_build_daily",
    job=warehouse_build,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description=(
        "Daily build for deployments with no provider enabled (event and outcome files only); skips when a "
        "provider is enabled, where warehouse_build_after_ingest builds after each ingest."
    ),
)
def warehouse_build_daily(context: dg.ScheduleEvaluationContext):
    providers = current_settings().enabled_providers
    if providers:
        return dg.SkipReason(
            f"provider(s) {', '.join(providers)} enabled: the sensor warehouse_build_after_ingest builds after "
            "each successful provider_ingest run"
        )
    tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    return dg.RunRequest(run_key=tick.astimezone(dt.UTC).date().isoformat())
