"""Alert state transitions: a breach is recorded once, kept while it lasts, resolved when it is gone,
re-opened when it comes back, and a new period is a new alert."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from dagster_project.defs.alerts.state import Breach, alert_id, current_breaches, sync_alerts
from tests.alerts.conftest import AS_OF, OCTOBER, anomaly_row, budget_row

T0 = dt.datetime(2026, 10, 31, 3, 0)
NOVEMBER = dt.date(2026, 11, 1)


def evaluate(marts, now: dt.datetime, alert_days: int = 7):
    with marts.connect() as con:
        return sync_alerts(con, current_breaches(con, alert_days), now)


def rows(marts) -> list[dict]:
    with marts.connect() as con:
        cur = con.execute("select * from ops.alerts order by kind, scope, period_start")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def hour(n: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


def test_alert_id_is_deterministic_and_names_what_it_is_about():
    a = alert_id("budget_soft", "workflow", "code-review", OCTOBER)
    assert a == alert_id("budget_soft", "workflow", "code-review", OCTOBER)
    assert len({a, alert_id("budget_soft", "workflow", "code-review", NOVEMBER),
                alert_id("budget_hard_cap", "workflow", "code-review", OCTOBER),
                alert_id("budget_soft", "feature", "code-review", OCTOBER)}) == 4


def test_only_current_month_budgets_at_risk_or_breached_are_breaches(marts):
    marts.set_budgets([
        budget_row("code-review", "860", "850"),                              # breached
        budget_row("contract-review", "766", "780"),                          # at risk (forecast 791.6)
        budget_row("support-triage", "28", "40"),                             # ok
        budget_row("internal-assistant", "99.68", "95", scope_type="feature", policy="hard_cap",
                   is_production=False),                                      # hard cap breached
        budget_row("code-review", "900", "850", period_start=dt.date(2026, 9, 1)),  # closed month
    ])
    with marts.connect() as con:
        breaches = {(b.kind, b.scope, b.severity, b.details["status"]) for b in current_breaches(con, 7)}
    assert breaches == {
        ("budget_soft", "code-review", "critical", "breached"),
        ("budget_soft", "contract-review", "warning", "at_risk"),
        ("budget_hard_cap", "internal-assistant", "critical", "breached"),
    }


def test_a_breach_opens_once_and_a_rerun_adds_no_duplicate(marts):
    marts.set_budgets([budget_row("code-review", "860", "850")])
    first = evaluate(marts, hour(0))
    second = evaluate(marts, hour(1))
    third = evaluate(marts, hour(2))
    assert len(first.opened) == 1 and not first.still_open
    assert second.still_open == first.opened and not second.opened
    assert third.still_open == first.opened and not third.opened
    (row,) = rows(marts)
    assert row["status"] == "open" and row["kind"] == "budget_soft" and row["period_start"] == OCTOBER
    assert row["first_seen_at"] == hour(0) and row["last_seen_at"] == hour(2)
    assert row["resolved_at"] is None and row["notified_at"] is None and row["times_opened"] == 1


def test_an_alert_resolves_when_its_breach_is_gone_and_reopens_when_it_returns(marts):
    marts.set_budgets([budget_row("code-review", "860", "850")])
    opened = evaluate(marts, hour(0)).opened
    with marts.connect() as con:
        con.execute("update ops.alerts set notified_at = ?", [hour(0)])

    marts.set_budgets([budget_row("code-review", "860", "1000")])  # the owner raised the budget
    resolved = evaluate(marts, hour(1))
    assert resolved.resolved == opened
    (row,) = rows(marts)
    assert row["status"] == "resolved" and row["resolved_at"] == hour(1)
    assert not evaluate(marts, hour(2)).resolved  # resolving is not repeated

    marts.set_budgets([budget_row("code-review", "860", "850")])  # and lowered it again
    reopened = evaluate(marts, hour(3))
    assert reopened.reopened == opened and not reopened.opened
    (row,) = rows(marts)
    assert row["status"] == "open" and row["resolved_at"] is None and row["times_opened"] == 2
    assert row["notified_at"] is None, "a re-opened alert is sent again"
    assert row["first_seen_at"] == hour(0) and row["last_seen_at"] == hour(3)


def test_a_new_month_resolves_last_months_alert_and_opens_its_own(marts):
    marts.set_budgets([budget_row("code-review", "860", "850")])
    october = evaluate(marts, hour(0)).opened
    marts.set_budgets([
        budget_row("code-review", "860", "850", as_of=dt.date(2026, 11, 3)),  # October, now closed
        budget_row("code-review", "120", "850", period_start=NOVEMBER, as_of=dt.date(2026, 11, 3)),
    ])
    result = evaluate(marts, hour(24))
    assert result.resolved == october and len(result.opened) == 1
    by_period = {r["period_start"]: r["status"] for r in rows(marts)}
    assert by_period == {OCTOBER: "resolved", NOVEMBER: "open"}


def test_at_risk_escalating_to_breached_keeps_one_alert_and_sends_it_again(marts):
    marts.set_budgets([budget_row("contract-review", "766", "780")])
    (aid,) = evaluate(marts, hour(0)).opened
    with marts.connect() as con:
        con.execute("update ops.alerts set notified_at = ?", [hour(0)])
    marts.set_budgets([budget_row("contract-review", "790", "780")])
    assert evaluate(marts, hour(1)).escalated == [aid]
    (row,) = rows(marts)
    assert row["severity"] == "critical" and row["notified_at"] is None
    with marts.connect() as con:
        con.execute("update ops.alerts set notified_at = ?", [hour(1)])
    marts.set_budgets([budget_row("contract-review", "766", "780")])  # spend restated down: at risk again
    again = evaluate(marts, hour(2))
    assert again.still_open == [aid] and not again.escalated
    (row,) = rows(marts)
    assert row["severity"] == "critical" and row["notified_at"] == hour(1), "no new message for a de-escalation"


def test_anomalies_alert_inside_the_window_and_resolve_as_they_age(marts):
    old = AS_OF - dt.timedelta(days=10)
    marts.set_budgets([budget_row("code-review", "100", "850")])  # the as-of date, no breach
    marts.set_anomalies([
        anomaly_row("search-answers", AS_OF - dt.timedelta(days=2)),
        anomaly_row("doc-extraction", old),
        anomaly_row("ticket-summary", AS_OF, is_anomaly=False),
    ])
    result = evaluate(marts, hour(0))
    assert [r["scope"] for r in rows(marts)] == ["search-answers"]
    (row,) = rows(marts)
    assert row["kind"] == "spend_anomaly" and row["period_grain"] == "day"
    assert row["period_start"] == AS_OF - dt.timedelta(days=2) and len(result.opened) == 1

    marts.set_anomalies([  # a week later the data has moved on: the spike is outside the window
        anomaly_row("search-answers", AS_OF - dt.timedelta(days=2)),
        anomaly_row("ticket-summary", AS_OF + dt.timedelta(days=7), is_anomaly=False),
    ])
    aged = evaluate(marts, hour(1))
    assert aged.resolved == result.opened and not aged.opened
    assert evaluate(marts, hour(2), alert_days=31).reopened  # a wider window sees it again


def test_a_failed_evaluation_changes_nothing(marts):
    marts.set_budgets([budget_row("code-review", "860", "850")])
    evaluate(marts, hour(0))
    before = rows(marts)
    bad = [
        Breach("budget_soft", "workflow", "new-one", "month", OCTOBER, "warning"),
        Breach("budget_soft", "workflow", "code-review", "month", OCTOBER, "apocalyptic"),  # unknown severity
    ]
    with marts.connect() as con, pytest.raises(KeyError):
        sync_alerts(con, bad, hour(1))
    assert rows(marts) == before


def test_the_asset_opens_then_keeps_and_reports_counts(marts):
    from dagster_project.defs.alerts.assets import alerts

    marts.set_budgets([
        budget_row("code-review", "860", "850"),
        budget_row("internal-assistant", "99.68", "95", scope_type="feature", policy="hard_cap", is_production=False),
    ])
    marts.set_anomalies([anomaly_row("search-answers", AS_OF)])
    first = dg.materialize([alerts])
    second = dg.materialize([alerts])
    meta = [r.get_asset_materialization_events()[0].materialization.metadata for r in (first, second)]
    assert (meta[0]["opened"].value, meta[0]["still_open"].value) == (3, 0)
    assert (meta[1]["opened"].value, meta[1]["still_open"].value) == (0, 3)
    assert {r["kind"] for r in rows(marts)} == {"budget_soft", "budget_hard_cap", "spend_anomaly"}
    assert len(rows(marts)) == 3
