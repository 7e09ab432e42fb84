"""`alerts_sensor`: every minute, deliver the alerts that `ops/alerts` opened and nobody was told about.

It starts no runs. Each tick reads the pending alerts with a short read-only connection to the
warehouse file and closes it, logs every one to the tick's log, POSTs them as JSON to
`TOKENSPEND_ALERT_WEBHOOK_URL` when it is set (read at each tick), then marks them notified in a short
update. Nothing holds the file during the POST, so a build is never kept waiting on a webhook.

DuckDB lets one process write the file at a time. A tick that finds it held by a build skips the read
and tries again a minute later (nothing was sent). Alerts sent while a build took the file before they
could be marked are kept in the sensor's cursor (alert id, severity, opening, time sent: no URL, no
alert text) and marked by the next tick that finds the file free, without being sent again. A failed
POST leaves the alerts pending for the next tick and fails the tick, so it shows in the UI.
Turn it on in the UI (Automation) or with `dagster sensor start alerts_sensor`. It reads only a warehouse
file of its own mode (`lib/deployment.py`); in demo mode it never POSTs, the demo's alerts go to the log.
"""

import json

import dagster as dg

from dagster_project.defs.alerts.notify import Delivery, WebhookError, notify_pending
from dagster_project.lib.deployment import check_warehouse_mode
from dagster_project.settings import current_settings


def read_cursor(cursor: str | None) -> list[Delivery]:
    """The deliveries an earlier tick could not mark notified."""
    if not cursor:
        return []
    return [Delivery.from_json(d) for d in json.loads(cursor).get("unmarked", [])]


def write_cursor(unmarked: list[Delivery]) -> str:
    return json.dumps({"unmarked": [d.to_json() for d in unmarked]})


@dg.sensor(
    name="alerts_sensor",
    minimum_interval_seconds=60,
    description="Sends new budget and anomaly alerts (ops.alerts) to the log and the alert webhook.",
)
def alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    config = current_settings()
    path = config.duckdb_path
    if not path.exists():
        return dg.SkipReason(f"no warehouse at {path} yet")
    carried = read_cursor(context.cursor)
    # the webhook belongs to the live deployment: the demo's alerts only go to the log
    url = config.alert_webhook_url.get_secret_value() if config.alert_webhook_url and config.mode == "live" else None
    result = notify_pending(path, context.log, url, unmarked=carried,
                            guard=lambda con: check_warehouse_mode(con, config, path, write=False))
    if result.unmarked != carried:
        context.update_cursor(write_cursor(result.unmarked))
    waiting = f"; {len(result.unmarked)} sent alert(s) to record as notified next tick" if result.unmarked else ""
    if result.busy:
        return dg.SkipReason(f"the warehouse is busy (a run holds it); retrying next tick{waiting}")
    if not result.alerts:
        recorded = f"recorded {result.recorded} sent alert(s) as notified; " if result.recorded else ""
        return dg.SkipReason(f"{recorded}no new alerts{waiting}")
    if result.error:
        # a failed tick shows red in the UI; the alerts stay pending and the next tick retries
        raise WebhookError(f"{len(result.alerts)} alert(s) still pending: {result.error}")
    where = f"the log and the webhook at {result.webhook_host}" if result.webhook_host else "the log"
    return dg.SkipReason(f"sent {len(result.alerts)} new alert(s) to {where}{waiting}")
