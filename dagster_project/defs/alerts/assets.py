"""`ops/alerts`: the alert state table, brought in line with the budget and anomaly marts on every build.

The asset evaluates what is wrong now (state.py) and opens, keeps or resolves rows of `ops.alerts` in
one transaction; a re-run opens nothing new. It only records: `alerts_sensor` delivers, and nothing
here touches traffic. The check on `marts/mart_budget_status` warns when a soft budget is at risk or
breached, naming the scopes.
"""

import datetime as dt

import dagster as dg

from dagster_project.defs.alerts.state import current_breaches, sync_alerts
from dagster_project.lib.deployment import open_warehouse
from dagster_project.settings import current_settings

BUDGET_STATUS = dg.AssetKey(["marts", "mart_budget_status"])
SPEND_ANOMALIES = dg.AssetKey(["marts", "mart_spend_anomalies"])

OPEN_ALERTS_SQL = """
select kind, scope_type, scope, cast(period_start as varchar), severity, cast(notified_at is not null as varchar)
from ops.alerts where status = 'open' order by kind, scope_type, scope, period_start
"""


@dg.asset(
    key=["ops", "alerts"],
    group_name="alerts",
    deps=[BUDGET_STATUS, SPEND_ANOMALIES],
    kinds={"duckdb"},
    description=(
        "Alert state (ops.alerts, kept across rebuilds): one row per breach - a soft budget or hard cap at "
        "risk or breached this month, or a spend anomaly in the last TOKENSPEND_ANOMALY_ALERT_DAYS days - "
        "opened once, kept open while it lasts, resolved when it is gone. alerts_sensor delivers new rows."
    ),
)
def alerts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    now = dt.datetime.now(dt.UTC)
    with open_warehouse() as con:
        breaches = current_breaches(con, current_settings().anomaly_alert_days)
        result = sync_alerts(con, breaches, now)
        open_rows = con.execute(OPEN_ALERTS_SQL).fetchall()
    context.log.info(
        f"alerts: {len(result.opened)} opened, {len(result.reopened)} re-opened, {len(result.escalated)} escalated, "
        f"{len(result.still_open)} still open, {len(result.resolved)} resolved"
    )
    table = "\n".join(
        ["| kind | scope type | scope | period | severity | notified |", "|---|---|---|---|---|---|"]
        + [f"| {' | '.join(r)} |" for r in open_rows]
    )
    return dg.MaterializeResult(
        metadata={
            "opened": len(result.opened),
            "reopened": len(result.reopened),
            "escalated": len(result.escalated),
            "still_open": len(result.still_open),
            "resolved": len(result.resolved),
            "open_alerts": len(open_rows),
            "open": dg.MetadataValue.md(table),
        }
    )


SOFT_BUDGETS_SQL = """
select scope_type, scope, status, spend_to_date_usd, forecast_month_end_usd, monthly_budget_usd
from marts.mart_budget_status
where is_current_period and policy = 'soft' and status <> 'ok'
order by status desc, scope_type, scope
"""


@dg.asset_check(asset=BUDGET_STATUS, name="soft_budgets_within_forecast", blocking=False)
def soft_budgets_within_forecast() -> dg.AssetCheckResult:
    """Warns (never fails the run) when a soft budget of the current month is at risk or breached."""
    with open_warehouse(read_only=True) as con:
        rows = con.execute(SOFT_BUDGETS_SQL).fetchall()
    table = "\n".join(
        ["| scope type | scope | status | spend USD | forecast USD | budget USD |", "|---|---|---|---|---|---|"]
        + [f"| {t} | {s} | {st} | {sp:,.2f} | {f:,.2f} | {b:,.2f} |" for t, s, st, sp, f, b in rows]
    )
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(rows)} soft budget(s) at risk or breached this month: an alert, never a cap" if rows
            else "every soft budget is within its forecast"
        ),
        metadata={
            "scopes": dg.MetadataValue.json([f"{t}:{s}" for t, s, *_ in rows]),
            "budgets": dg.MetadataValue.md(table),
        },
    )
