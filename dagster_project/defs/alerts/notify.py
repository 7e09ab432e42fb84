"""Sending new alerts: to the run log always, and as one JSON POST when a webhook is configured.

Plain functions, so tests (and any other caller) can run a delivery without a Dagster daemon; the
sensor in `sensor.py` only opens the warehouse and calls `notify_pending`.

Delivery is at-least-once: the alerts are marked `notified_at` only after the POST succeeded. A POST
that fails (after a few quick retries on timeouts, connection errors, 429 and 5xx) leaves them pending,
so the next tick sends them again; the number of failed ticks is kept in `notify_attempts`.
The POST is also retried within a tick (`WEBHOOK_POLICY` allows POST). That adds no new kind of
duplicate: a POST that timed out after the receiver took it is sent again on the next tick anyway. So
every alert carries its stable `alert_id`, and the request an `Idempotency-Key` made from the batch's
alert ids: a receiver that keys on either drops a repeat; a plain chat hook shows it twice at worst.
The webhook URL may hold a token (Slack, Teams and most chat hooks do), so it never reaches a log, an
error message or the database: messages name its host only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import duckdb
import requests

from dagster_project.lib.http import (
    RetryPolicy,
    attempts_made,
    describe_failure,
    hide_from_logs,
    retrying_session,
)

# A sensor tick must stay under Dagster's 60 s evaluation limit: 3 tries with 6 s connect and read
# timeouts and waits of at most 5 s (Retry-After included) end within 46 s (worst_case_seconds).
WEBHOOK_POLICY = RetryPolicy(
    max_attempts=3, backoff_seconds=0.5, max_wait_seconds=5.0, timeout_seconds=6.0, retry_post=True
)

PENDING_SQL = """
select alert_id, kind, scope_type, scope, period_grain, period_start, severity, status,
       first_seen_at, last_seen_at, times_opened, details
from ops.alerts
where status = 'open' and notified_at is null
order by first_seen_at, kind, scope_type, scope, period_start
"""


class WebhookError(RuntimeError):
    """The webhook did not accept the alerts; the message names the host, never the URL."""


@dataclass
class NotifyResult:
    """What one delivery did: the alerts it handled and whether the webhook took them."""

    alerts: list[dict] = field(default_factory=list)
    delivered: bool = False
    webhook_host: str | None = None
    error: str | None = None


def url_host(url: str) -> str:
    """The host (and port) of a URL: all a log may say about a webhook."""
    parts = urlsplit(url)
    host = parts.hostname or "(no host)"
    return f"{host}:{parts.port}" if parts.port else host


def pending_alerts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Open alerts not yet delivered, oldest first, as plain dicts (details parsed from JSON)."""
    from dagster_project.defs.alerts.state import ensure_alerts_table

    ensure_alerts_table(con)
    cursor = con.execute(PENDING_SQL)
    columns = [d[0] for d in cursor.description]
    alerts = []
    for row in cursor.fetchall():
        alert = dict(zip(columns, row, strict=True))
        alert["details"] = json.loads(alert["details"])
        for key in ("period_start", "first_seen_at", "last_seen_at"):
            alert[key] = alert[key].isoformat()
        alerts.append(alert)
    return alerts


def describe(alert: dict) -> str:
    """One line a person can act on, e.g. for the run log or a chat message."""
    d = alert["details"]
    where = f"{alert['scope_type']} {alert['scope']}"
    if alert["kind"] == "spend_anomaly":
        return (
            f"[{alert['severity']}] spend anomaly: {where} spent ${d.get('cost_usd')} on {alert['period_start']} "
            f"(trailing median ${d.get('baseline_median_usd')}, threshold ${d.get('threshold_usd')})"
        )
    month = alert["period_start"][:7]
    what = "hard cap" if alert["kind"] == "budget_hard_cap" else "soft budget"
    return (
        f"[{alert['severity']}] {what} {d.get('status')}: {where} {month} spent ${d.get('spend_to_date_usd')} "
        f"of ${d.get('monthly_budget_usd')} by {d.get('as_of_date')}, forecast ${d.get('forecast_month_end_usd')} "
        f"(action: {d.get('action')}; owner: {d.get('owner')})"
    )


def build_payload(alerts: list[dict]) -> dict:
    """The JSON body: `text` (so a Slack-style incoming webhook shows it as is) and the alerts in full."""
    lines = [describe(a) for a in alerts]
    return {
        "source": "tokenspend",
        "text": f"tokenspend: {len(alerts)} new alert(s)\n" + "\n".join(lines),
        "alerts": [{**a, "summary": line} for a, line in zip(alerts, lines, strict=True)],
    }


def idempotency_key(payload: dict) -> str:
    """The same key for the same batch of alerts, on every retry and every tick that resends it."""
    ids = sorted(str(a.get("alert_id")) for a in payload.get("alerts", []))
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:32]


def post_json(
    url: str,
    payload: dict,
    policy: RetryPolicy | None = None,
    session: requests.Session | None = None,
) -> None:
    """POST `payload` as JSON with a timeout; the session retries timeouts, connection errors, 429 and
    5xx as `policy` says (default WEBHOOK_POLICY), honouring `Retry-After`.

    Raises WebhookError (naming the host and the last problem, never the URL) when it gives up.
    """
    policy = policy or WEBHOOK_POLICY
    host = url_host(url)
    hide_from_logs(url)
    session = session or retrying_session(policy)
    headers = {"Idempotency-Key": idempotency_key(payload)}
    try:
        response = session.post(url, json=payload, headers=headers, timeout=policy.timeout_seconds)
    except requests.RequestException as exc:  # its text may contain the URL: describe it by class only
        raise WebhookError(f"alert webhook at {host} did not accept the alerts: {describe_failure(exc, policy)}") from None
    if 200 <= response.status_code < 300:
        return
    raise WebhookError(
        f"alert webhook at {host} did not accept the alerts after {attempts_made(response)} attempt(s): "
        f"HTTP {response.status_code}"
    )


def notify_pending(
    con: duckdb.DuckDBPyConnection,
    log: logging.Logger | logging.LoggerAdapter | object,
    webhook_url: str | None,
    now: dt.datetime | None = None,
    post: Callable[[str, dict], None] = post_json,
) -> NotifyResult:
    """Deliver every pending alert once: log each, POST them together when `webhook_url` is set, then
    mark them notified. On a failed POST nothing is marked, `notify_attempts` goes up and the error is
    logged (host only), so the next call sends them again. Returns what happened."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    alerts = pending_alerts(con)
    result = NotifyResult(alerts=alerts, webhook_host=url_host(webhook_url) if webhook_url else None)
    if not alerts:
        return result
    for alert in alerts:
        log.warning(f"tokenspend alert {alert['alert_id'][:12]}: {describe(alert)}")
    ids = [a["alert_id"] for a in alerts]
    if webhook_url:
        try:
            post(webhook_url, build_payload(alerts))
        except WebhookError as exc:
            result.error = str(exc)
        except Exception as exc:  # never let a message that may hold the URL escape
            result.error = f"alert webhook at {result.webhook_host} failed: {type(exc).__name__}"
        if result.error:
            log.error(f"{result.error}; {len(ids)} alert(s) stay pending and are retried on the next tick")
            con.execute(
                "update ops.alerts set notify_attempts = notify_attempts + 1 where list_contains(?, alert_id)", [ids]
            )
            return result
        log.info(f"POSTed {len(ids)} alert(s) to the alert webhook at {result.webhook_host}")
    con.execute("update ops.alerts set notified_at = ? where list_contains(?, alert_id)", [now, ids])
    result.delivered = True
    return result
