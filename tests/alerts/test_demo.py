"""On the demo organisation built end to end: the budget alerts the demo's budgets are chosen to raise,
the hard-cap export, and that evaluating again adds no alert. Figures come from the marts, not from here."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest

from dagster_project.defs.alerts.state import current_breaches, sync_alerts

pytestmark = pytest.mark.slow


def test_demo_raises_a_soft_alert_and_a_hard_cap_breach(warehouse):
    alerts = warehouse.execute("""
        select kind, scope_type, scope, status, json_extract_string(details, '$.status')
        from ops.alerts where status = 'open'
    """).fetchall()
    soft = [a for a in alerts if a[0] == "budget_soft"]
    assert soft and all(a[4] in ("at_risk", "breached") for a in soft)
    assert ("budget_hard_cap", "feature", "internal-assistant", "open", "breached") in alerts
    # and each one is what the mart says about the current month
    current = warehouse.execute("""
        select count(*) from marts.mart_budget_status where is_current_period and status <> 'ok'
    """).fetchone()[0]
    assert len(soft) + sum(a[0] == "budget_hard_cap" for a in alerts) == current


def test_demo_never_hard_caps_production(warehouse):
    assert warehouse.execute("""
        select count(*) from marts.mart_budget_status where policy = 'hard_cap' and is_production is not false
    """).fetchone()[0] == 0


def test_demo_hard_cap_export_names_internal_assistant(built_warehouse):
    body = json.loads((built_warehouse["db"].parent / "exports" / "hard_caps.json").read_text())
    (cap,) = body["caps"]
    assert cap["scope"] == "internal-assistant" and cap["enforce"] is True
    assert cap["spend_to_date_usd"] > cap["monthly_cap_usd"]


def test_demo_anomaly_mart_covers_every_day_of_every_value(warehouse):
    missing = warehouse.execute("""
        with spans as (
            select dimension, value, min(usage_date) as first_day, count(*) as days
            from marts.mart_spend_anomalies group by 1, 2
        )
        select * from spans
        where days <> date_diff('day', first_day, (select max(usage_date) from marts.fct_token_spend)) + 1
    """).fetchall()
    assert missing == []


def test_evaluating_the_demo_again_adds_no_alert(built_warehouse, tmp_path):
    copy = tmp_path / "tokenspend.duckdb"
    shutil.copy(built_warehouse["db"], copy)
    with duckdb.connect(str(copy)) as con:
        before = con.execute("select alert_id, status, times_opened from ops.alerts order by 1").fetchall()
        result = sync_alerts(con, current_breaches(con, 7), dt.datetime.now(dt.UTC))
        after = con.execute("select alert_id, status, times_opened from ops.alerts order by 1").fetchall()
    assert not result.opened and not result.reopened and not result.resolved
    assert after == before
