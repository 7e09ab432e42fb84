"""`alerts_sensor`: every minute, deliver the alerts that `ops/alerts` opened and nobody was told about.

It starts no runs. Each tick opens the warehouse, logs every pending alert to the tick's log, POSTs them
as JSON to `TOKENSPEND_ALERT_WEBHOOK_URL` when it is set (read at each tick), and marks them notified.
A failed POST leaves them pending for the next tick and fails the tick, so it shows in the UI. DuckDB lets one process write at a time, so a tick
that finds the warehouse busy (a run is building it) skips and tries again a minute later.
Turn it on in the UI (Automation) or with `dagster sensor start alerts_sensor`.
"""

import dagster as dg
import duckdb

from dagster_project import settings
from dagster_project.defs.alerts.notify import WebhookError, notify_pending
from dagster_project.lib.warehouse import connect


@dg.sensor(
    name="alerts_sensor",
    minimum_interval_seconds=60,
    description="Sends new budget and anomaly alerts (ops.alerts) to the log and the alert webhook.",
)
def alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    path = settings.duckdb_path()
    if not path.exists():
        return dg.SkipReason(f"no warehouse at {path} yet")
    try:
        with connect(path) as con:
            result = notify_pending(con, context.log, settings.alert_webhook_url())
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        return dg.SkipReason("the warehouse is busy (a run holds it); retrying next tick")
    if not result.alerts:
        return dg.SkipReason("no new alerts")
    if result.error:
        # a failed tick shows red in the UI; the alerts stay pending and the next tick retries
        raise WebhookError(f"{len(result.alerts)} alert(s) still pending: {result.error}")
    where = f"the log and the webhook at {result.webhook_host}" if result.webhook_host else "the log"
    return dg.SkipReason(f"sent {len(result.alerts)} new alert(s) to {where}")
