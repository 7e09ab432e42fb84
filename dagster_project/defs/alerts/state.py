"""Alert state: each breach is recorded once in `ops.alerts` and moves open -> resolved (-> open again).

The table lives in the schema `ops`, which dbt never builds or drops: it is state, not a model, and a
warehouse rebuild must not forget which alerts were already sent. An alert's id is a hash of what it is
about (kind, scope, period), so evaluating the same marts twice finds the same ids and adds nothing:

- a breach with no row opens one (`status = open`, `notified_at` null, so the sensor sends it);
- a breach whose row is open keeps it (`last_seen_at`, details updated). Its severity only rises
  (at_risk -> breached); a rise clears `notified_at` so the escalation is sent once;
- an open row whose breach is gone is resolved (`resolved_at`);
- a breach whose row is resolved re-opens that row (`times_opened` + 1) and is sent again.

What counts as a breach now:
- budgets: the month of the as-of date (`mart_budget_status.is_current_period`) with status at_risk or
  breached. `budget_soft` for soft budgets, `budget_hard_cap` for hard caps. When the data moves on to
  the next month, last month's alerts resolve (the period closed) and the new month opens its own.
- anomalies: days flagged by `mart_spend_anomalies` within `TOKENSPEND_ANOMALY_ALERT_DAYS` of the
  as-of date; older ones resolve (they are history in the mart).

All changes of one evaluation happen in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

KINDS = ("budget_soft", "budget_hard_cap", "spend_anomaly")
SEVERITY_RANK = {"warning": 1, "critical": 2}

ALERTS_DDL = """
create schema if not exists ops;
create table if not exists ops.alerts (
    alert_id varchar primary key,     -- sha256 of kind | scope_type | scope | period_start (32 hex)
    kind varchar not null,            -- budget_soft | budget_hard_cap | spend_anomaly
    scope_type varchar not null,      -- feature | workflow | team
    scope varchar not null,
    period_grain varchar not null,    -- month (budgets) | day (anomalies)
    period_start date not null,       -- the budget month's first day, or the anomaly's day
    severity varchar not null,        -- warning | critical: the highest seen while open
    status varchar not null,          -- open | resolved
    first_seen_at timestamp not null, -- UTC, the first time this alert ever opened
    last_seen_at timestamp not null,  -- UTC, the last evaluation that found the breach
    resolved_at timestamp,            -- UTC, null while open
    notified_at timestamp,            -- UTC, null until the sensor has delivered it
    notify_attempts integer not null default 0,  -- failed deliveries since it last needed sending
    times_opened integer not null default 1,
    details varchar not null          -- JSON text: the figures behind the alert
)
"""


def ensure_alerts_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create `ops.alerts` when missing (never drops or rebuilds it)."""
    con.execute(ALERTS_DDL)


def alert_id(kind: str, scope_type: str, scope: str, period_start: dt.date) -> str:
    """Deterministic id: the same breach always maps to the same row."""
    text = "|".join([kind, scope_type, scope, period_start.isoformat()])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Breach:
    """Something the marts say is wrong now: one alert row's worth."""

    kind: str
    scope_type: str
    scope: str
    period_grain: str
    period_start: dt.date
    severity: str
    details: dict = field(default_factory=dict, compare=False)

    @property
    def alert_id(self) -> str:
        return alert_id(self.kind, self.scope_type, self.scope, self.period_start)


@dataclass
class SyncResult:
    """Alert ids by what one evaluation did to them."""

    opened: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


def _money(value: Decimal | None) -> str | None:
    """Dollars to the cent as exact text (JSON has no decimal type; a float would not be exact)."""
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.0001")))


BUDGET_SQL = """
select scope_type, scope, period_start, policy, owner, status, action, as_of_date, days_elapsed, days_in_month,
       monthly_budget_usd, spend_to_date_usd, forecast_month_end_usd, share_of_budget, forecast_share
from marts.mart_budget_status
where is_current_period and status in ('at_risk', 'breached')
order by scope_type, scope
"""

ANOMALY_SQL = """
with as_of as (select max(usage_date) as as_of_date from marts.mart_spend_anomalies)
select usage_date, dimension, value, cost_usd, baseline_median_usd, baseline_mad_usd, threshold_usd,
       mad_score, prior_days
from marts.mart_spend_anomalies, as_of
where is_anomaly and usage_date > as_of.as_of_date - cast(? as integer)
order by usage_date, dimension, value
"""


def budget_breaches(con: duckdb.DuckDBPyConnection) -> list[Breach]:
    """At-risk and breached budgets of the current month (the month of the as-of date)."""
    breaches = []
    for r in con.execute(BUDGET_SQL).fetchall():
        (scope_type, scope, period_start, policy, owner, status, action, as_of, elapsed, days,
         budget, spend, forecast, share, forecast_share) = r
        breaches.append(Breach(
            kind="budget_hard_cap" if policy == "hard_cap" else "budget_soft",
            scope_type=scope_type,
            scope=scope,
            period_grain="month",
            period_start=period_start,
            severity="critical" if status == "breached" else "warning",
            details={
                "policy": policy, "status": status, "action": action, "owner": owner,
                "as_of_date": as_of.isoformat(), "days_elapsed": elapsed, "days_in_month": days,
                "monthly_budget_usd": _money(budget), "spend_to_date_usd": _money(spend),
                "forecast_month_end_usd": _money(forecast), "share_of_budget": _ratio(share),
                "forecast_share": _ratio(forecast_share),
            },
        ))
    return breaches


def anomaly_breaches(con: duckdb.DuckDBPyConnection, alert_days: int) -> list[Breach]:
    """Spend anomalies on the last `alert_days` days up to the as-of date."""
    breaches = []
    for r in con.execute(ANOMALY_SQL, [alert_days]).fetchall():
        day, dimension, value, cost, median, mad, threshold, score, prior = r
        breaches.append(Breach(
            kind="spend_anomaly",
            scope_type=dimension,
            scope=value,
            period_grain="day",
            period_start=day,
            severity="warning",
            details={
                "usage_date": day.isoformat(), "cost_usd": _money(cost), "baseline_median_usd": _money(median),
                "baseline_mad_usd": _money(mad), "threshold_usd": _money(threshold),
                "mad_score": _ratio(score), "prior_days": prior,
            },
        ))
    return breaches


def current_breaches(con: duckdb.DuckDBPyConnection, anomaly_alert_days: int) -> list[Breach]:
    """Everything the marts say is wrong now, budgets first."""
    return budget_breaches(con) + anomaly_breaches(con, anomaly_alert_days)


def sync_alerts(con: duckdb.DuckDBPyConnection, breaches: list[Breach], now: dt.datetime) -> SyncResult:
    """Bring `ops.alerts` in line with `breaches` in ONE transaction (see the module docstring).

    `now` is the UTC time recorded on the rows (naive or aware; stored as naive UTC).
    """
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    ensure_alerts_table(con)
    wanted = {b.alert_id: b for b in breaches}
    result = SyncResult()
    con.execute("begin transaction")
    try:
        # the table holds one row per breach ever seen: small enough to read whole
        existing = {
            row[0]: row for row in con.execute("select alert_id, status, severity from ops.alerts").fetchall()
        }
        for aid, b in wanted.items():
            details = json.dumps(b.details, sort_keys=True)
            row = existing.get(aid)
            if row is None:
                con.execute(
                    """insert into ops.alerts (alert_id, kind, scope_type, scope, period_grain, period_start, severity,
                           status, first_seen_at, last_seen_at, details)
                       values (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)""",
                    [aid, b.kind, b.scope_type, b.scope, b.period_grain, b.period_start, b.severity, now, now, details],
                )
                result.opened.append(aid)
            elif row[1] == "open":
                escalate = SEVERITY_RANK[b.severity] > SEVERITY_RANK.get(row[2], 0)
                con.execute(
                    f"""update ops.alerts set last_seen_at = ?, details = ?
                        {", severity = ?, notified_at = null, notify_attempts = 0" if escalate else ""}
                        where alert_id = ?""",
                    [now, details, *([b.severity] if escalate else []), aid],
                )
                (result.escalated if escalate else result.still_open).append(aid)
            else:
                con.execute(
                    """update ops.alerts set status = 'open', resolved_at = null, last_seen_at = ?, severity = ?,
                           details = ?, notified_at = null, notify_attempts = 0, times_opened = times_opened + 1
                       where alert_id = ?""",
                    [now, b.severity, details, aid],
                )
                result.reopened.append(aid)
        for aid, row in existing.items():
            if row[1] == "open" and aid not in wanted:
                con.execute(
                    "update ops.alerts set status = 'resolved', resolved_at = ? where alert_id = ?", [now, aid]
                )
                result.resolved.append(aid)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result
