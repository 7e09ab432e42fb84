"""The hard-cap export a gateway reads, and the soft-budget check on mart_budget_status."""

from __future__ import annotations

import csv
import datetime as dt
import json

import dagster as dg
import pytest

from dagster_project.defs.alerts.assets import soft_budgets_within_forecast
from dagster_project.defs.alerts.exports import ProductionHardCapError, hard_caps_export, write_hard_caps
from tests.alerts.conftest import budget_row

SEPTEMBER = dt.date(2026, 9, 1)


def demo_like_budgets() -> list[dict]:
    return [
        budget_row("internal-assistant", "99.68", "95", scope_type="feature", policy="hard_cap", is_production=False),
        budget_row("notebooks", "12.50", "40", scope_type="feature", policy="hard_cap", is_production=False),
        budget_row("internal-assistant", "93.45", "95", scope_type="feature", policy="hard_cap",
                   is_production=False, period_start=SEPTEMBER),  # last month: not in force now
        budget_row("code-review", "860.46", "850"),  # soft: alerts, never exported
        budget_row("platform", "937.36", "1100", scope_type="team", is_production=None),
    ]


def test_export_has_one_row_per_hard_cap_in_force(marts, tmp_path):
    marts.set_budgets(demo_like_budgets())
    with marts.connect() as con:
        caps, (csv_path, json_path) = write_hard_caps(con, tmp_path / "exports")
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["scope"], r["monthly_cap_usd"], r["spend_to_date_usd"], r["remaining_usd"], r["status"], r["enforce"])
            for r in rows] == [
        ("internal-assistant", "95.00", "99.68", "0.00", "breached", "true"),
        ("notebooks", "40.00", "12.50", "27.50", "ok", "false"),
    ]
    assert rows[0]["gateway_tag"] == "feature:internal-assistant" and rows[0]["period_start"] == "2026-10-01"
    body = json.loads(json_path.read_text())
    assert body["as_of_date"] == "2026-10-30"
    first = body["caps"][0]
    assert (first["scope"], first["max_budget"], first["budget_duration"], first["enforce"]) == (
        "internal-assistant", 95.0, "1mo", True)
    assert first["spend_to_date_usd"] == 99.68 and first["remaining_usd"] == 0.0
    assert [c["scope"] for c in body["caps"]] == [r["scope"] for r in rows] == [c["scope"] for c in caps]


@pytest.mark.parametrize("is_production", [True, None], ids=["production", "not-known"])
def test_a_production_scope_is_never_exported(marts, tmp_path, is_production):
    marts.set_budgets(demo_like_budgets())
    with marts.connect() as con:
        write_hard_caps(con, tmp_path / "exports")
        before = (tmp_path / "exports" / "hard_caps.csv").read_text()
    marts.set_budgets([*demo_like_budgets(), budget_row("search-answers", "10", "5", scope_type="feature",
                                                        policy="hard_cap", is_production=is_production)])
    with marts.connect() as con, pytest.raises(ProductionHardCapError, match="feature:search-answers"):
        write_hard_caps(con, tmp_path / "exports")
    assert (tmp_path / "exports" / "hard_caps.csv").read_text() == before, "the previous files stay"


def test_no_hard_caps_writes_empty_files(marts, tmp_path):
    marts.set_budgets([budget_row("code-review", "860.46", "850")])
    with marts.connect() as con:
        caps, (csv_path, json_path) = write_hard_caps(con, tmp_path / "exports")
    assert caps == [] and csv_path.read_text().count("\n") == 1 and json.loads(json_path.read_text())["caps"] == []


def test_the_asset_writes_into_the_export_dir(marts, tmp_path):
    marts.set_budgets(demo_like_budgets())
    result = dg.materialize([hard_caps_export])
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["caps"].value == 2 and meta["enforce_now"].value == ["feature:internal-assistant"]
    assert (tmp_path / "exports" / "hard_caps.json").exists() and (tmp_path / "exports" / "hard_caps.csv").exists()


def test_soft_budget_check_warns_and_names_the_scopes(marts):
    marts.set_budgets([
        *demo_like_budgets(),
        budget_row("contract-review", "766.08", "780"),  # at risk
        budget_row("support-triage", "28", "40"),        # ok
    ])
    result = soft_budgets_within_forecast()
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["scopes"].value == ["workflow:code-review", "workflow:contract-review"]


def test_soft_budget_check_passes_when_all_are_within_forecast(marts):
    marts.set_budgets([budget_row("support-triage", "28", "40")])
    result = soft_budgets_within_forecast()
    assert result.passed and result.metadata["scopes"].value == []
