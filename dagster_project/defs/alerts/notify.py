"""Sending new alerts: to the run log always, and as one JSON POST when a webhook is configured.

Plain functions, so tests (and any other caller) can run a delivery without a Dagster daemon; the
sensor in `sensor.py` calls `notify_pending` with the warehouse path and keeps what it returns.

No connection is held across network I/O. A delivery reads the pending alerts with a read-only
connection and closes it, sends, then marks them `notified_at` in a short update (`mark_delivered`).
The warehouse file belongs to the builds: when a build holds it, the read is skipped (the alerts stay
pending; nothing was sent), and a mark that cannot be written is handed back as `Delivery` records
(`NotifyResult.unmarked`) for the caller to pass to the next call, which writes them first and does not
send those alerts again. A mark applies only to the row as it was sent (same severity, same opening),
so an escalation or a re-opening that a build recorded in between is still sent.

Delivery is at-least-once: the alerts are marked only after the POST succeeded. A POST that fails
(after a few quick retries on timeouts, connection errors, 429 and 5xx) leaves them pending, so the
next tick sends them again; the number of failed ticks is kept in `notify_attempts` (when the file is
free to count it). The POST is also retried within a tick (`WEBHOOK_POLICY` allows POST). That adds no
new kind of duplicate: a POST that timed out after the receiver took it is sent again on the next tick
anyway. So every alert carries its stable `alert_id`, and the request an `Idempotency-Key` made from
the batch's alert ids: a receiver that keys on either drops a repeat; a plain chat hook shows it twice
at worst. The webhook URL may hold a token (Slack, Teams and most chat hooks do), so it never reaches a
log, an error message or the database: messages name its host only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
from dagster_project.lib.warehouse import connect, is_lock_conflict

# A sensor tick must stay under Dagster's 60 s evaluation limit: 3 tries with 6 s connect and read
# timeouts and waits of at most 5 s (Retry-After included) end within 46 s (worst_case_seconds).
WEBHOOK_POLICY = RetryPolicy(
    max_attempts=3, backoff_seconds=0.5, max_wait_seconds=5.0, timeout_seconds=6.0, retry_post=True
)
# The read does not wait for a build to let go of the warehouse file; the mark after a POST waits up to
# 5 s for a short hold to end (46 s + 5 s still fits a tick), then is handed back for the next tick.
READ_LOCK_WAIT_SECONDS = 0.0
MARK_LOCK_WAIT_SECONDS = 5.0

PENDING_SQL = """
select alert_id, kind, scope_type, scope, period_grain, period_start, severity, status,
       first_seen_at, last_seen_at, times_opened, details
from ops.alerts
where status = 'open' and notified_at is null
order by first_seen_at, kind, scope_type, scope, period_start
"""


class WebhookError(RuntimeError):
    """The webhook did not accept the alerts; the message names the host, never the URL."""


@dataclass(frozen=True)
class Delivery:
    """An alert as it was sent. Marking it notified applies only while its row is still in this state
    (same severity, same opening) and not yet marked."""

    alert_id: str
    severity: str
    times_opened: int
    sent_at: dt.datetime  # naive UTC, recorded as notified_at

    @classmethod
    def of(cls, alert: dict, sent_at: dt.datetime) -> Delivery:
        return cls(alert["alert_id"], alert["severity"], alert["times_opened"], sent_at)

    def matches(self, alert: dict) -> bool:
        return (self.alert_id, self.severity, self.times_opened) == (
            alert["alert_id"], alert["severity"], alert["times_opened"])

    def to_json(self) -> list:
        return [self.alert_id, self.severity, self.times_opened, self.sent_at.isoformat()]

    @classmethod
    def from_json(cls, value: list) -> Delivery:
        alert_id, severity, times_opened, sent_at = value
        return cls(alert_id, severity, int(times_opened), dt.datetime.fromisoformat(sent_at))


@dataclass
class NotifyResult:
    """What one delivery did: the alerts it sent, whether the webhook took them, and the deliveries whose
    `notified_at` could not be written yet (pass them to the next call)."""

    alerts: list[dict] = field(default_factory=list)
    delivered: bool = False
    webhook_host: str | None = None
    error: str | None = None
    busy: bool = False  # a build held the warehouse: nothing was read or sent
    unmarked: list[Delivery] = field(default_factory=list)
    recorded: int = 0  # earlier deliveries whose notified_at this call wrote


def url_host(url: str) -> str:
    """The host (and port) of a URL: all a log may say about a webhook."""
    parts = urlsplit(url)
    host = parts.hostname or "(no host)"
    return f"{host}:{parts.port}" if parts.port else host


def pending_alerts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Open alerts not yet delivered, oldest first, as plain dicts (details parsed from JSON); none when
    the warehouse has no `ops.alerts` yet. Reads only, so a read-only connection will do."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'ops' and table_name = 'alerts'"
    ).fetchone()[0]
    if not exists:
        return []
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


MARK_SQL = """
update ops.alerts set notified_at = ?
where alert_id = ? and severity = ? and times_opened = ? and notified_at is null
"""


def read_pending(db_path: Path, guard: Callable | None = None) -> list[dict] | None:
    """The pending alerts, read with a short read-only connection; None when another process (a build)
    holds the warehouse file. `guard` runs first on the connection and may refuse the file (`connect`)."""
    try:
        with connect(db_path, read_only=True, lock_wait_seconds=READ_LOCK_WAIT_SECONDS, guard=guard) as con:
            return pending_alerts(con)
    except duckdb.IOException as exc:
        if is_lock_conflict(exc):
            return None
        raise


def mark_delivered(db_path: Path, deliveries: list[Delivery], lock_wait_seconds: float | None = None) -> bool:
    """Set `notified_at` of delivered alerts in one short transaction. False (nothing written) when the
    warehouse file stayed held for `lock_wait_seconds` (default MARK_LOCK_WAIT_SECONDS): keep the
    deliveries and call again later."""
    if not deliveries:
        return True
    wait = MARK_LOCK_WAIT_SECONDS if lock_wait_seconds is None else lock_wait_seconds
    try:
        with connect(db_path, lock_wait_seconds=wait) as con:
            con.execute("begin transaction")
            try:
                for d in deliveries:
                    con.execute(MARK_SQL, [d.sent_at, d.alert_id, d.severity, d.times_opened])
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
    except duckdb.IOException as exc:
        if is_lock_conflict(exc):
            return False
        raise
    return True


def count_failed_attempt(db_path: Path, alert_ids: list[str]) -> bool:
    """`notify_attempts + 1` for alerts whose POST failed; skipped (False) while the file is held."""
    try:
        with connect(db_path, lock_wait_seconds=MARK_LOCK_WAIT_SECONDS) as con:
            con.execute(
                "update ops.alerts set notify_attempts = notify_attempts + 1 where list_contains(?, alert_id)",
                [alert_ids],
            )
    except duckdb.IOException as exc:
        if is_lock_conflict(exc):
            return False
        raise
    return True


def notify_pending(
    db_path: Path | str,
    log: logging.Logger | logging.LoggerAdapter | object,
    webhook_url: str | None,
    now: dt.datetime | None = None,
    post: Callable[[str, dict], None] = post_json,
    unmarked: list[Delivery] | tuple[Delivery, ...] = (),
    guard: Callable | None = None,
) -> NotifyResult:
    """Deliver every pending alert of the warehouse at `db_path` once, never holding it across the POST.

    1. `unmarked` (deliveries an earlier call could not record) are marked notified first;
    2. pending alerts are read read-only (a held file: `busy`, nothing sent), leaving out those in
       `unmarked`, which were sent already; `guard` may refuse the file there (the sensor checks the
       warehouse belongs to this mode), before anything is sent;
    3. each is logged, and POSTed together when `webhook_url` is set;
    4. on success they are marked notified in a short update; if the file is held by then, they come
       back in `result.unmarked` for the next call. On a failed POST nothing is marked,
       `notify_attempts` goes up and the error is logged (host only), so the next call sends them again.
    """
    db_path = Path(db_path)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    result = NotifyResult(webhook_host=url_host(webhook_url) if webhook_url else None)
    carried = list(unmarked)
    if carried and mark_delivered(db_path, carried):
        log.info(f"recorded {len(carried)} earlier delivered alert(s) as notified")
        result.recorded, carried = len(carried), []
    result.unmarked = carried
    pending = read_pending(db_path, guard)
    if pending is None:
        result.busy = True
        return result
    alerts = [a for a in pending if not any(d.matches(a) for d in carried)]
    result.alerts = alerts
    if not alerts:
        return result
    for alert in alerts:
        log.warning(f"tokenspend alert {alert['alert_id'][:12]}: {describe(alert)}")
    if webhook_url:
        try:
            post(webhook_url, build_payload(alerts))
        except WebhookError as exc:
            result.error = str(exc)
        except Exception as exc:  # never let a message that may hold the URL escape
            result.error = f"alert webhook at {result.webhook_host} failed: {type(exc).__name__}"
        if result.error:
            log.error(f"{result.error}; {len(alerts)} alert(s) stay pending and are retried on the next tick")
            count_failed_attempt(db_path, [a["alert_id"] for a in alerts])
            return result
        log.info(f"POSTed {len(alerts)} alert(s) to the alert webhook at {result.webhook_host}")
    result.delivered = True
    sent = [Delivery.of(a, now) for a in alerts]
    if not mark_delivered(db_path, sent):
        log.warning(f"the warehouse is busy: {len(sent)} delivered alert(s) are recorded as notified on the next tick")
        result.unmarked = carried + sent
    return result
